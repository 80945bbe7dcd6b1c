package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/httpapi"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

var secretRE = regexp.MustCompile(`^bg_[A-Za-z0-9_-]{43}$`)

// TestKeyCommands issues, lists and revokes keys with the commands, in a store in a data directory.
func TestKeyCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	out, errOut, err := run(t, "key", "add", "--role", "supervisor", "--name", "sato", "--data-dir", data)
	if err != nil {
		t.Fatalf("key add: %v\n%s", err, errOut)
	}
	secret := strings.TrimSpace(out)
	if !secretRE.MatchString(secret) {
		t.Fatalf("key add printed %q, want one secret bg_ + 43 base64url characters", out)
	}
	if !strings.Contains(errOut, `key "sato" (role supervisor) added to sqlite `+filepath.Join(data, "brokerguard.db")) {
		t.Errorf("key add said %q, want the key, its role and the store named", errOut)
	}
	outFile := filepath.Join(dir, "analyst-key")
	if _, errOut, err := run(t, "key", "add", "--name", "suzuki", "--role", "analyst", "--out", outFile, "--data-dir", data); err != nil {
		t.Fatalf("key add --out: %v\n%s", err, errOut)
	}
	fi, err := os.Stat(outFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("--out file: got %v, %v; want mode 0600", fi, err)
	}
	b, _ := os.ReadFile(outFile)
	analystSecret := strings.TrimSpace(string(b))
	if !secretRE.MatchString(analystSecret) {
		t.Errorf("--out file holds %q, want a secret", b)
	}

	errs := []struct {
		name string
		args []string
		want string
	}{
		{"duplicate name", []string{"add", "--role", "read", "--name", "sato"}, `a key named "sato" exists already`},
		{"unknown role", []string{"add", "--role", "god", "--name", "zeus"}, `--role "god": want one of read, ingest, analyst, supervisor, admin`},
		{"name with a space", []string{"add", "--role", "read", "--name", "a b"}, `--name "a b"`},
		{"existing --out file", []string{"add", "--role", "read", "--name", "other", "--out", outFile}, "exists; name a new file"},
		{"unknown key", []string{"revoke", "tanaka"}, `no key named "tanaka"`},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := run(t, append(append([]string{"key"}, tc.args...), "--data-dir", data)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			if code := ExitCode(err); code != 1 {
				t.Errorf("exit status: got %d, want 1", code)
			}
		})
	}
	if _, _, err := run(t, "key", "add", "--role", "read", "--data-dir", data); !errors.Is(err, ErrUsage) {
		t.Errorf("key add without --name: got %v, want a usage error", err)
	}

	out, _, err = run(t, "key", "revoke", "suzuki", "--data-dir", data)
	if err != nil || !strings.Contains(out, `key "suzuki" (role analyst) revoked`) {
		t.Errorf("key revoke: got %q, %v", out, err)
	}
	out, _, err = run(t, "key", "revoke", "--data-dir", data, "suzuki")
	if err != nil || !strings.Contains(out, `key "suzuki" was revoked already`) {
		t.Errorf("key revoke again: got %q, %v", out, err)
	}

	out, _, err = run(t, "key", "list", "--data-dir", data)
	if err != nil {
		t.Fatalf("key list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") {
		t.Fatalf("key list: got\n%s\nwant a header and two keys", out)
	}
	for i, want := range []struct {
		name, role string
		revoked    bool
	}{{"sato", "supervisor", false}, {"suzuki", "analyst", true}} {
		f := strings.Fields(lines[i+1])
		if len(f) != 4 || f[0] != want.name || f[1] != want.role || (f[3] != "-") == !want.revoked {
			t.Errorf("key list line %d: got %q, want %s %s revoked=%v", i+1, lines[i+1], want.name, want.role, want.revoked)
		}
	}
	if strings.Contains(out, secret) || strings.Contains(out, analystSecret) {
		t.Error("key list shows a secret")
	}

	// The store holds the hashes, never the secrets.
	st, err := sqlite.Open(t.Context(), filepath.Join(data, "brokerguard.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, err := st.KeyByHash(t.Context(), sha256.Sum256([]byte(secret)))
	if err != nil || k.Name != "sato" || k.Role != "supervisor" || !k.Revoked.IsZero() {
		t.Errorf("KeyByHash(the printed secret): got %+v, %v; want sato, supervisor, valid", k, err)
	}
	// Each issue and revocation is in the audit trail; the trail holds no secret either.
	recs, err := st.Audit(t.Context(), store.AuditQuery{Action: "key."})
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	for _, r := range recs {
		trail = append(trail, r.Action+" "+r.Target+" "+r.Actor)
		if strings.Contains(string(r.Data), "bg_") {
			t.Errorf("audit record %d holds a secret: %s", r.Seq, r.Data)
		}
	}
	if got, want := strings.Join(trail, "; "), "key.add key:sato command-line; key.add key:suzuki command-line; key.revoke key:suzuki command-line"; got != want {
		t.Errorf("audit trail: got %q, want %q", got, want)
	}
	st.Close()
	for _, f := range []string{"brokerguard.db", "brokerguard.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(data, f))
		if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(analystSecret)) {
			t.Errorf("%s holds a secret", f)
		}
	}
}

// hashStore is the store's key lookup, counting its calls.
type hashStore struct {
	mu    sync.Mutex
	keys  map[[32]byte]store.APIKey
	calls int
	err   error
}

func (h *hashStore) KeyByHash(_ context.Context, hash [32]byte) (store.APIKey, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if h.err != nil {
		return store.APIKey{}, h.err
	}
	k, ok := h.keys[hash]
	if !ok {
		return store.APIKey{}, store.ErrNotFound
	}
	return k, nil
}

// TestKeyRing checks the ring against a real SQLite store: static keys first, the store's keys after,
// revoked keys refused once the cache has expired, unknown keys refused.
func TestKeyRing(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "k.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	static := httpapi.Key{Name: "configured", Role: "admin", Hash: sha256.Sum256([]byte("configured-secret"))}
	ring := newKeyRing([]httpapi.Key{static}, st, clock)
	supSecret, err := addKey(ctx, st, "sato", "supervisor", now)
	if err != nil {
		t.Fatal(err)
	}
	hash := func(s string) [32]byte { return sha256.Sum256([]byte(s)) }

	check := func(step, secret string, wantFound bool, wantName string) {
		t.Helper()
		k, found, err := ring.Lookup(ctx, hash(secret))
		if err != nil || found != wantFound || k.Name != wantName {
			t.Errorf("%s: got %q found=%v err=%v, want %q found=%v", step, k.Name, found, err, wantName, wantFound)
		}
	}
	check("static key", "configured-secret", true, "configured")
	check("store key", supSecret, true, "sato")
	check("unknown key", "bg_nobody", false, "")

	// A key added while the ring is in use.
	late, err := addKey(ctx, st, "late", "read", now)
	if err != nil {
		t.Fatal(err)
	}
	check("a key added later", late, true, "late")
	if _, err := st.RevokeKey(ctx, "sato", now); err != nil {
		t.Fatal(err)
	}
	check("revoked, within the cache time", supSecret, true, "sato")
	now = now.Add(keyCacheFor)
	check("revoked, once the cache has expired", supSecret, false, "")

	// The static keys are never looked up in the store, and answers are cached.
	hs := &hashStore{keys: map[[32]byte]store.APIKey{hash("x-secret"): {Name: "x", Role: "read", Hash: hash("x-secret")}}}
	r2 := &keyRing{static: []httpapi.Key{static}, store: hs, now: clock, cache: map[[32]byte]cachedKey{}}
	for range 3 {
		r2.Lookup(ctx, hash("configured-secret"))
		r2.Lookup(ctx, hash("x-secret"))
		r2.Lookup(ctx, hash("unknown"))
	}
	if hs.calls != 2 {
		t.Errorf("store lookups: got %d, want 2 (one per unknown hash, then cached)", hs.calls)
	}
	// A failing store is an error, not a refusal, and is not cached.
	hs.err = store.ErrUnavailable
	if _, _, err := r2.Lookup(ctx, hash("y-secret")); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("failing store: got %v, want %v", err, store.ErrUnavailable)
	}
	hs.err = nil
	if _, found, err := r2.Lookup(ctx, hash("y-secret")); err != nil || found {
		t.Errorf("after the store recovered: got found=%v, %v; want not found, no error", found, err)
	}
	// Random secrets cannot grow the cache without bound.
	for i := range keyCacheSize + 10 {
		r2.Lookup(ctx, sha256.Sum256([]byte{byte(i), byte(i >> 8)}))
	}
	if n := len(r2.cache); n > keyCacheSize {
		t.Errorf("cache: got %d entries, want at most %d", n, keyCacheSize)
	}
}

// TestServeAcceptsIssuedKeys runs the API on a store with keys issued by key add: a supervisor's key
// may approve, an analyst's may not, a revoked key is refused.
func TestServeAcceptsIssuedKeys(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	secrets := map[string]string{}
	for _, k := range []struct{ name, role string }{{"sup", "supervisor"}, {"ana", "analyst"}, {"gone", "analyst"}} {
		out, errOut, err := run(t, "key", "add", "--role", k.role, "--name", k.name, "--data-dir", data)
		if err != nil {
			t.Fatalf("key add: %v\n%s", err, errOut)
		}
		secrets[k.name] = strings.TrimSpace(out)
	}
	if _, _, err := run(t, "key", "revoke", "gone", "--data-dir", data); err != nil {
		t.Fatal(err)
	}
	addr, errb, stop := serveForTest(t, "--data-dir", data)
	defer stop()
	if want := "store: sqlite " + filepath.Join(data, "brokerguard.db") + ", "; !strings.Contains(errb.String(), want) {
		t.Errorf("serve does not say which store it writes (%q):\n%s", want, errb.String())
	}
	for _, tc := range []struct {
		key, method, path string
		want              int
	}{
		{"sup", "GET", "/v1/incidents", http.StatusOK},
		{"ana", "GET", "/v1/incidents", http.StatusOK},
		{"gone", "GET", "/v1/incidents", http.StatusUnauthorized},
		{"sup", "POST", "/v1/incidents/inc-none/approve", http.StatusNotFound}, // past the role check
		{"ana", "POST", "/v1/incidents/inc-none/approve", http.StatusForbidden},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+addr+tc.path, strings.NewReader(`{"reason":"checked"}`))
		req.Header.Set("Authorization", "Bearer "+secrets[tc.key])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%s %s with %s's key: got %d, want %d (%s)", tc.method, tc.path, tc.key, res.StatusCode, tc.want, body)
		}
	}
}

// serveForTest runs serve in-process on a free port and returns its address, its standard error and a
// stop function.
func serveForTest(t *testing.T, args ...string) (string, *syncBuffer, func()) {
	t.Helper()
	addrFile := filepath.Join(t.TempDir(), "addr")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	errb := &syncBuffer{}
	go func() {
		done <- Run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0", "--addr-file", addrFile}, args...),
			IO{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: errb, Environ: []string{}})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			return string(b), errb, func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v\n%s", err, errb.String())
				}
			}
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve stopped: %v\n%s", err, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start\n%s", errb.String())
		}
	}
}

// syncBuffer is a buffer that a command writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestGeneratedKeyFile checks that the generated admin key is written readable by its owner only, kept,
// and refused once others may read it.
func TestGeneratedKeyFile(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	log := newLogger(io.Discard, cfg)
	keys, err := apiKeys(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg.DataDir, "api-key")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated key file: got %v, %v; want mode 0600", fi, err)
	}
	if di, err := os.Stat(cfg.DataDir); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("data directory: got %v, %v; want mode 0700", di, err)
	}
	b, _ := os.ReadFile(path)
	b = bytes.TrimSpace(b)
	if !secretRE.MatchString(string(b)) || keys[0].Hash != sha256.Sum256(b) {
		t.Errorf("generated key %q: want a bg_ secret whose hash the API takes", b)
	}
	again, err := apiKeys(cfg, log)
	if err != nil || again[0].Hash != keys[0].Hash {
		t.Errorf("second start: got %v, %v; want the same key kept", again, err)
	}
	os.Chmod(path, 0o644)
	if _, err := apiKeys(cfg, log); err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Errorf("key file readable by others: got %v, want a refusal naming the fix", err)
	}
}

// TestDemoIssuesStaffKeys runs the demo on a small firm and takes an incident through the approval
// flow of the README with the keys that it prints: an analyst assesses, a supervisor approves.
func TestDemoIssuesStaffKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates a firm")
	}
	dir := t.TempDir()
	sc, err := os.ReadFile("../sim/scenarios/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	scenario := filepath.Join(dir, "tiny.yaml")
	os.WriteFile(scenario, bytes.Replace(sc, []byte("\naccounts: 2000"), []byte("\naccounts: 200"), 1), 0o600)
	data := filepath.Join(dir, "demo")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"demo", "--scenario", scenario, "--data-dir", data, "--listen", "127.0.0.1:0"},
			IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Environ: []string{}})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	}()
	ready := regexp.MustCompile(`The API is at http://([0-9.:]+)\.`)
	var addr string
	for deadline := time.Now().Add(60 * time.Second); addr == ""; {
		if m := ready.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("demo stopped: %v\n%s\n%s", err, out.String(), errb.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo did not start serving:\n%s\n%s", out.String(), errb.String())
		}
	}
	if !strings.Contains(errb.String(), "store: sqlite "+filepath.Join(data, "brokerguard.db")+", ") {
		t.Errorf("the demo does not say which store it writes:\n%s", errb.String())
	}
	secrets := map[string]string{}
	for _, k := range []struct{ env, file string }{{"KEY", "api-key"}, {"ANALYST_KEY", "analyst-key"}, {"SUPERVISOR_KEY", "supervisor-key"}} {
		path := filepath.Join(data, k.file)
		if !strings.Contains(out.String(), k.env+"=$(cat "+path+")") {
			t.Errorf("the demo does not say how to use %s:\n%s", path, out.String())
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: got %v, %v; want mode 0600", path, fi, err)
		}
		b, _ := os.ReadFile(path)
		secrets[k.env] = strings.TrimSpace(string(b))
	}

	call := func(key, method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secrets[key])
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, body := call("KEY", "GET", "/v1/incidents", "")
	inc := regexp.MustCompile(`"id":"(inc-[^"]+)","account":"[^"]+","source":"fraud_report","status":"open"`).FindStringSubmatch(body)
	if code != http.StatusOK || inc == nil {
		t.Fatalf("GET /v1/incidents: got %d %s, want an open incident of a fraud report", code, body)
	}
	steps := []struct {
		key, path, body string
		want            int
		wantStatus      string
	}{
		{"ANALYST_KEY", "/assess", `{"policy":"half_purchased","reason":"policy of 2025-07"}`, http.StatusOK, `"status":"assessed"`},
		{"ANALYST_KEY", "/approve", `{"reason":"checked"}`, http.StatusForbidden, ""},
		{"SUPERVISOR_KEY", "/approve", `{"reason":"checked"}`, http.StatusOK, `"status":"approved"`},
	}
	for _, st := range steps {
		code, body := call(st.key, "POST", "/v1/incidents/"+inc[1]+st.path, st.body)
		if code != st.want || !strings.Contains(body, st.wantStatus) {
			t.Errorf("POST %s with %s: got %d %.300s, want %d %s", st.path, st.key, code, body, st.want, st.wantStatus)
		}
	}
}
