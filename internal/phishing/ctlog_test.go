package phishing

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/brokerguard/brokerguard/internal/phishing/cttest"
)

func follower(t *testing.T, l *cttest.Log, positions string, found func(context.Context, Site) error, key []byte) *Follower {
	t.Helper()
	f, err := NewFollower(FollowerOptions{Logs: []string{l.URL}, PublicKey: [][]byte{key}, Matcher: testMatcher(t),
		Positions: FilePositions{Path: positions}, Found: found, FromStart: true, Batch: 64})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFollowerFindsLookalikesAndResumes(t *testing.T) {
	l := cttest.New(t)
	want := map[string]bool{}
	for i := range 150 {
		switch i % 10 {
		case 3:
			l.Issue(false, "sbisec-login.top", "www.sbisec-login.top")
			want["sbisec-login.top"] = true
			want["www.sbisec-login.top"] = true
		case 7:
			name := "sbisce-" + strconv.Itoa(i) + ".com" // a typo of the brand, and a number
			l.Issue(true, name)
			want[name] = true
		case 8:
			l.Issue(false, "www.sbisec.co.jp", "m.sbisec.co.jp") // the firm's own
		default:
			l.Issue(i%2 == 0, "shop"+strconv.Itoa(i)+".example.com")
		}
	}
	var mu sync.Mutex
	var got []Site
	record := func(_ context.Context, s Site) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, s)
		return nil
	}
	positions := filepath.Join(t.TempDir(), "ct-positions.json")
	f := follower(t, l, positions, record, l.PublicKey())
	n, err := f.Poll(t.Context())
	if err != nil || n != 150 {
		t.Fatalf("Poll: %d entries, %v; want 150", n, err)
	}
	names := map[string]bool{}
	for _, s := range got {
		if names[s.ID()] {
			t.Errorf("site %s reported twice", s.ID())
		}
		names[s.ID()] = true
		if !want[s.Name] {
			t.Errorf("found %s (%v), not a lookalike", s.Name, s.Techniques)
		}
		if s.Issuer != "Example Trust Test Issuing CA" || s.Log != l.URL {
			t.Errorf("site %+v: want the issuer and the log named", s)
		}
		if s.Precert != (s.Index%10 == 7) {
			t.Errorf("site %s at %d: precert %v", s.Name, s.Index, s.Precert)
		}
	}
	if len(got) != 45 { // 15 × 2 names + 15 precerts
		t.Fatalf("found %d sites, want 45", len(got))
	}

	// A restart: new entries only, none read again.
	l.Issue(false, "sbisec.verify-now.click")
	l.Issue(false, "example.org")
	got = nil
	f = follower(t, l, positions, record, l.PublicKey())
	if n, err := f.Poll(t.Context()); err != nil || n != 2 || len(got) != 1 || got[0].Name != "sbisec.verify-now.click" || got[0].Index != 150 {
		t.Fatalf("after a restart: %d entries, %v, sites %+v; want 2 entries and the one site at index 150", n, err, got)
	}

	// Found fails: the batch is read again next time, nothing is skipped.
	l.Issue(false, "sbisec-mypage.pages.dev")
	fail := errors.New("store down")
	calls := 0
	f = follower(t, l, positions, func(ctx context.Context, s Site) error {
		calls++
		if calls == 1 {
			return fail
		}
		return record(ctx, s)
	}, l.PublicKey())
	got = nil
	if _, err := f.Poll(t.Context()); !errors.Is(err, fail) {
		t.Fatalf("Poll with a failing Found: %v", err)
	}
	if _, err := f.Poll(t.Context()); err != nil || len(got) != 1 || got[0].Name != "sbisec-mypage.pages.dev" ||
		!slices.Contains(got[0].Techniques, "free_hosting") {
		t.Fatalf("the retry: %v, %+v", err, got)
	}
}

func TestFollowerChecksTheLogsSignature(t *testing.T) {
	l := cttest.New(t)
	l.Issue(false, "sbisec.com")
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	wrong, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
	f := follower(t, l, filepath.Join(t.TempDir(), "p.json"), func(context.Context, Site) error { return nil }, wrong)
	if _, err := f.Poll(t.Context()); err == nil {
		t.Fatal("a tree head signed by another key was accepted")
	}
}

func TestFollowerStartsAtTheEnd(t *testing.T) {
	l := cttest.New(t)
	l.Issue(false, "sbisec.com")
	found := 0
	f, err := NewFollower(FollowerOptions{Logs: []string{l.URL}, Matcher: testMatcher(t), Positions: FilePositions{Path: filepath.Join(t.TempDir(), "p.json")},
		Found: func(context.Context, Site) error { found++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.Poll(t.Context()); err != nil || n != 0 || found != 0 {
		t.Fatalf("first poll of a new log: %d entries, %d found, %v; want it to start at the end", n, found, err)
	}
	l.Issue(false, "sbisec.net")
	if n, err := f.Poll(t.Context()); err != nil || n != 1 || found != 1 {
		t.Fatalf("second poll: %d entries, %d found, %v", n, found, err)
	}
}
