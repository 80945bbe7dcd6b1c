package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/ingest"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

// shedServer is the API on loopback over a real ingest service with at most maxInflight events in
// flight and its own SQLite file. With run false the committer is not started until start is called:
// the requests admitted wait for it, holding their room.
type shedServer struct {
	url   string
	svc   *ingest.Service
	st    *sqlite.Store
	start func()
	close func() // stops the server and closes the store; also done at the test's end
}

func newShedServer(t *testing.T, maxInflight, maxRequests int, commitDelay time.Duration, run bool) *shedServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "shed.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := detect.New(detect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := ingest.NewService(ingest.ServiceOptions{Engine: eng, Store: st, MaxInflight: maxInflight, CommitDelay: commitDelay,
		Timing: ingest.Timing{Lateness: 24 * time.Hour, Future: time.Hour, Now: time.Now}})
	if _, err := svc.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var once sync.Once
	start := func() { once.Do(func() { go func() { svc.Run(ctx); close(done) }() }) }
	if run {
		start()
	}
	hs := httptest.NewServer(New(Options{Ingester: svc, Store: st, MaxInflightRequests: maxRequests,
		Keys: StaticKeys{{Name: "edge", Role: RoleIngest, Hash: sha256.Sum256([]byte(ingestKey))}}}).Handler())
	var closeOnce sync.Once
	stop := func() {
		closeOnce.Do(func() {
			start() // let what waits for the committer finish
			hs.Close()
			cancel()
			<-done
			st.Close()
		})
	}
	t.Cleanup(stop)
	return &shedServer{url: hs.URL, svc: svc, st: st, start: start, close: stop}
}

// hold sends one event that takes the server's only unit of room and waits for the committer, which
// is not running: until start, every other request is shed.
func (s *shedServer) hold(t *testing.T) {
	t.Helper()
	go post(s.url, loginJSON("held", "HOLD", "198.51.100.1", "dev-h", mustTime("2025-04-11T09:00:00+09:00")))
	for i := 0; s.svc.Inflight() == 0; i++ {
		if i > 2000 {
			t.Fatal("the held request never came in")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestShedding: with at most one event (or one event request) in flight, a request that finds no room
// gets 429 with code overloaded and Retry-After, and nothing of it is stored; reads and /readyz are not
// shed; once the room is free again, events are taken.
func TestShedding(t *testing.T) {
	for _, b := range []struct {
		name               string
		maxEvents, maxReqs int
	}{{"events in flight", 1, 0}, {"requests in flight", 100, 1}} {
		t.Run(b.name, func(t *testing.T) { testShedding(t, b.maxEvents, b.maxReqs) })
	}
}

func testShedding(t *testing.T, maxEvents, maxReqs int) {
	s := newShedServer(t, maxEvents, maxReqs, 0, false)
	s.hold(t)
	ev := loginJSON("shed-1", "ACC1", "198.51.100.2", "dev-1", mustTime("2025-04-11T09:00:01+09:00"))
	tests := []struct {
		name, method, path, body string
		status                   int
		code, retryAfter         string
	}{
		{"one event", "POST", "/v1/events", ev, 429, CodeOverloaded, "1"},
		{"a batch", "POST", "/v1/events", "[" + ev + "]", 429, CodeOverloaded, "1"},
		{"a read", "GET", "/v1/decisions?account=ACC1", "", 200, "", ""},
		{"readiness", "GET", "/readyz", "", 200, "", ""},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			a := call(t, s.url, c.method, c.path, ingestKey, "", c.body)
			if a.status != c.status {
				t.Fatalf("got %d, want %d (%s)", a.status, c.status, a.body)
			}
			if got := a.header.Get("Retry-After"); got != c.retryAfter {
				t.Errorf("got Retry-After %q, want %q", got, c.retryAfter)
			}
			if c.code != "" {
				if err := checkError(readDoc(t), a.body); err != nil {
					t.Error(err)
				}
				if got := errCodeOf(a.body); got != c.code {
					t.Errorf("got code %q, want %q", got, c.code)
				}
			}
		})
	}
	if stored := storedIDs(t, s.st); stored["shed-1"] {
		t.Errorf("a shed event was stored")
	}
	s.start()
	for i := 0; s.svc.Inflight() != 0; i++ {
		if i > 5000 {
			t.Fatal("the held request never finished")
		}
		time.Sleep(time.Millisecond)
	}
	if a := call(t, s.url, "POST", "/v1/events", ingestKey, "", ev); a.status != 200 {
		t.Errorf("after the load: got %d, want 200 (%s)", a.status, a.body)
	}
}

func errCodeOf(body string) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	return errCode(m)
}

// TestOverloadKeepsWhatItAccepts drives many concurrent clients at a server that admits at most a few
// events at a time: some requests are shed with 429 and Retry-After, every event answered 200 is
// stored and no shed one is, the events in flight never pass the bound, and no goroutine is left.
func TestOverloadKeepsWhatItAccepts(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const (
		limit   = 4
		clients = 32
		each    = 15
	)
	var accepted, shed sync.Map
	var n200, n429, other atomic.Int64
	var peak atomic.Int64
	func() {
		s := newShedServer(t, limit, 0, 2*time.Millisecond, true)
		defer s.close()
		defer http.DefaultClient.CloseIdleConnections()
		stop := make(chan struct{})
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if n := int64(s.svc.Inflight()); n > peak.Load() {
					peak.Store(n)
				}
				runtime.Gosched()
			}
		}()
		base := mustTime("2025-04-11T09:00:00+09:00")
		var wg sync.WaitGroup
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					id := fmt.Sprintf("ov-%d-%d", c, i)
					body := loginJSON(id, fmt.Sprintf("ACC%d", c), "198.51.100.3", "dev-3", base.Add(time.Duration(i)*time.Second))
					a, err := post(s.url, body)
					switch {
					case err != nil:
						t.Errorf("%s: %v", id, err)
					case a.status == 200:
						n200.Add(1)
						accepted.Store(id, true)
					case a.status == 429 && a.header.Get("Retry-After") == "1" && errCodeOf(a.body) == CodeOverloaded:
						n429.Add(1)
						shed.Store(id, true)
					default:
						other.Add(1)
						t.Errorf("%s: got %d Retry-After %q %s, want 200 or 429 overloaded with Retry-After 1", id, a.status, a.header.Get("Retry-After"), a.body)
					}
				}
			}()
		}
		wg.Wait()
		close(stop)
		<-watched
		stored := storedIDs(t, s.st)
		accepted.Range(func(id, _ any) bool {
			if !stored[id.(string)] {
				t.Errorf("%s was answered 200 but is not stored", id)
			}
			return true
		})
		shed.Range(func(id, _ any) bool {
			if stored[id.(string)] {
				t.Errorf("%s was shed but is stored", id)
			}
			return true
		})
		if got, want := len(stored), int(n200.Load()); got != want {
			t.Errorf("got %d events stored, want %d (the 200s)", got, want)
		}
	}()
	t.Logf("%d accepted, %d shed, peak %d events in flight", n200.Load(), n429.Load(), peak.Load())
	if n429.Load() == 0 || n200.Load() == 0 {
		t.Errorf("got %d accepted and %d shed, want some of each", n200.Load(), n429.Load())
	}
	if p := peak.Load(); p > limit {
		t.Errorf("got %d events in flight at the peak, want at most %d", p, limit)
	}
}

// post sends one event; it may run on any goroutine.
func post(url, body string) (answer, error) {
	req, err := http.NewRequest("POST", url+"/v1/events", strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+ingestKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}, err
}

func storedIDs(t *testing.T, st *sqlite.Store) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	if err := st.ScanEvents(context.Background(), 0, func(_ int64, rec store.EventRecord) error {
		ids[rec.ID] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}
