package app

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

var long = flag.Bool("long", false, "run the long versions of the slow tests (also BROKERGUARD_LONG=1)")

// TestCrashRestart kills `brokerguard serve` (a child process on a SQLite data directory) with SIGKILL
// while clients post events to it, restarts it, and checks the store after each kill: every event
// the server acknowledged (200) is stored, and its decision as acknowledged; no event, decision or
// alert is stored twice; the counts agree with the rows. The clients retry what was not acknowledged,
// as a firm's exporter would. After the last cycle every sent event is stored exactly once, and a
// server restarted on the store decides new events as a fresh replay of the whole log does: its
// profiles are those of a fresh replay. 5 cycles; 100 with -long or BROKERGUARD_LONG=1.
func TestCrashRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds brokerguard and kills it under load")
	}
	cycles := 5
	if *long || os.Getenv("BROKERGUARD_LONG") == "1" {
		cycles = 100
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "brokerguard")
	build := exec.Command("go", "build", "-o", bin, "./cmd/brokerguard")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	logPath := filepath.Join(dir, "events.jsonl")
	// Concurrent clients reorder neighbouring events, and the simulated log's nights are sparse: a few
	// requests apart may be hours of data time apart, hence --lateness 24h for the server and the replay.
	if _, errOut, err := run(t, "simulate", "--scenario", "small", "--seed", "3", "--out", logPath, "--truth", filepath.Join(dir, "truth.json")); err != nil {
		t.Fatalf("simulate: %v\n%s", err, errOut)
	}
	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	// The probe: the log's last events, sent one at a time to the server restarted after the last kill.
	probe := lines[len(lines)-2000:]
	body := lines[:len(lines)-2000]
	ids := make([]string, len(lines))
	for i, l := range lines {
		var v struct{ ID string }
		if err := json.Unmarshal(l, &v); err != nil || v.ID == "" {
			t.Fatalf("line %d: no id (%v)", i+1, err)
		}
		ids[i] = v.ID
	}

	data := filepath.Join(dir, "data")
	secret, errOut, err := run(t, "key", "add", "--role", "ingest", "--name", "load", "--data-dir", data)
	if err != nil {
		t.Fatalf("key add: %v\n%s", err, errOut)
	}
	secret = strings.TrimSpace(secret)

	l := &loadClient{t: t, key: secret, lines: lines, ids: ids, acked: map[string]*event.Decision{}}
	rng := rand.New(rand.NewPCG(7, uint64(cycles)))
	perCycle := len(body) / (cycles + 1)
	next := 0
	var pending []int // sent, not acknowledged: sent again first
	for c := range cycles {
		srv := startServe(t, bin, data, dir)
		quota := min(len(body)-next, perCycle)
		work := append(pending, seq(next, next+quota)...)
		next += quota
		// Kill once a random share of this cycle's requests have been answered, with others in flight.
		killAfter := int64(len(work)/8 + rng.IntN(len(work)/2+1))
		pending = l.send(srv.addr, work, 8, killAfter, srv.kill)
		srv.kill()
		srv.wait()
		verifyStore(t, data, l, fmt.Sprintf("after kill %d", c+1))
	}
	// The last run: everything not yet acknowledged, then the probe, one event at a time, then a
	// graceful stop.
	srv := startServe(t, bin, data, dir)
	if rest := l.send(srv.addr, append(pending, seq(next, len(body))...), 8, -1, nil); len(rest) > 0 {
		t.Fatalf("%d events not acknowledged by a server that was not killed", len(rest))
	}
	if rest := l.send(srv.addr, seq(len(body), len(lines)), 1, -1, nil); len(rest) > 0 {
		t.Fatalf("%d probe events not acknowledged", len(rest))
	}
	srv.stop()
	st := verifyStore(t, data, l, "at the end")
	if st.events != len(lines) {
		t.Errorf("at the end: %d events stored, want the log's %d", st.events, len(lines))
	}
	inOrder := slices.Clone(st.raws)
	stored := st.raws
	slices.SortFunc(stored, bytes.Compare)
	sent := slices.Clone(lines)
	slices.SortFunc(sent, bytes.Compare)
	if len(stored) != len(sent) {
		t.Fatalf("stored %d events, sent %d", len(stored), len(sent))
	}
	for i := range sent {
		if !bytes.Equal(stored[i], sent[i]) {
			t.Fatalf("stored events differ from the sent ones: %s against %s", stored[i], sent[i])
		}
	}

	// A fresh server on a new data directory, sent the stored events in their stored order by one
	// client, then the probe: it decides the probe as the server restarted after the kills did, whose
	// profiles were rebuilt from the store.
	fresh := filepath.Join(dir, "fresh")
	freshKey, errOut, err := run(t, "key", "add", "--role", "ingest", "--name", "load", "--data-dir", fresh)
	if err != nil {
		t.Fatalf("key add: %v\n%s", err, errOut)
	}
	ref := &loadClient{t: t, key: strings.TrimSpace(freshKey), acked: map[string]*event.Decision{}}
	isProbe := map[string]bool{}
	for i := len(body); i < len(lines); i++ {
		isProbe[ids[i]] = true
	}
	for _, r := range inOrder {
		var v struct{ ID string }
		_ = json.Unmarshal(r, &v)
		if !isProbe[v.ID] {
			ref.lines, ref.ids = append(ref.lines, r), append(ref.ids, v.ID)
		}
	}
	nBody := len(ref.lines)
	ref.lines, ref.ids = append(ref.lines, probe...), append(ref.ids, ids[len(body):]...)
	srv = startServe(t, bin, fresh, dir)
	var rest []int
	for i := 0; i < nBody && len(rest) == 0; i += 256 {
		rest = ref.send(srv.addr, seq(i, min(i+256, nBody)), 1, -1, nil)
	}
	if len(rest) == 0 {
		rest = ref.send(srv.addr, seq(nBody, len(ref.lines)), 1, -1, nil)
	}
	srv.stop()
	if len(rest) > 0 {
		t.Fatalf("the fresh server did not acknowledge %d events", len(rest))
	}
	var differ, decided int
	for _, id := range ids[len(body):] {
		got, want := l.acked[id], ref.acked[id]
		if (got == nil) != (want == nil) || got != nil && (got.Action != want.Action || got.Score != want.Score || len(got.Reasons) != len(want.Reasons)) {
			if differ++; differ <= 5 {
				t.Errorf("probe event %s: the restarted server decided %+v, a fresh server %+v", id, got, want)
			}
		}
		if got != nil {
			decided++
		}
	}
	if decided == 0 {
		t.Error("no probe event was decided: the probe checks nothing")
	}
	t.Logf("%d kill -9 cycles: %d events acknowledged, %d probe decisions, %d differ from a fresh server's", cycles, len(l.acked), decided, differ)
}

func seq(from, to int) []int {
	out := make([]int, 0, max(0, to-from))
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// child is a running `brokerguard serve`.
type child struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	once   sync.Once
	done   chan error
}

func startServe(t *testing.T, bin, data, dir string) *child {
	t.Helper()
	addrFile := filepath.Join(dir, "addr")
	os.Remove(addrFile)
	c := &child{stderr: &syncBuffer{}, done: make(chan error, 1)}
	c.cmd = exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--addr-file", addrFile, "--data-dir", data, "--lateness", "24h")
	c.cmd.Stderr = c.stderr
	c.cmd.Env = append(os.Environ(), "BROKERGUARD_CONFIG=")
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			c.addr = strings.TrimSpace(string(b))
			break
		}
		select {
		case err := <-c.done:
			t.Fatalf("serve stopped at start: %v\n%s", err, c.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.kill()
			t.Fatalf("serve did not start\n%s", c.stderr.String())
		}
	}
	for time.Now().Before(deadline) { // ready once the store's events are processed again
		if res, err := http.Get("http://" + c.addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return c
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.kill()
	t.Fatalf("serve not ready\n%s", c.stderr.String())
	return nil
}

func (c *child) kill() { c.once.Do(func() { _ = c.cmd.Process.Signal(syscall.SIGKILL) }) }

func (c *child) wait() { <-c.done }

func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		c.kill()
		<-c.done
	}
}

// loadClient posts events and records what the server acknowledged.
type loadClient struct {
	t     *testing.T
	key   string
	lines [][]byte
	ids   []string
	mu    sync.Mutex
	acked map[string]*event.Decision // by event id: nil when acknowledged without a decision
	errs  atomic.Int64
}

// errorf reports a wrong answer, the first few in full.
func (l *loadClient) errorf(format string, args ...any) {
	if l.errs.Add(1) <= 5 {
		l.t.Errorf(format, args...)
	} else {
		l.t.Fail()
	}
}

// send posts the events at the given indexes with w concurrent clients, one to four events a request,
// and returns the indexes not acknowledged. After killAfter answered requests (-1: never) it calls
// kill and sends nothing more.
func (l *loadClient) send(addr string, work []int, w int, killAfter int64, kill func()) []int {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: w}}
	jobs := make(chan []int)
	var (
		answered atomic.Int64
		killed   atomic.Bool
		mu       sync.Mutex
		failed   []int
		wg       sync.WaitGroup
	)
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range jobs {
				if killed.Load() || !l.post(client, addr, job) {
					mu.Lock()
					failed = append(failed, job...)
					mu.Unlock()
				}
				if n := answered.Add(1); n == killAfter && kill != nil {
					killed.Store(true)
					kill()
				}
			}
		}()
	}
	for i := 0; i < len(work); {
		n := min(len(work)-i, 1+i%4)
		if killed.Load() {
			mu.Lock()
			failed = append(failed, work[i:]...)
			mu.Unlock()
			break
		}
		jobs <- work[i : i+n]
		i += n
	}
	close(jobs)
	wg.Wait()
	slices.Sort(failed)
	if kill == nil && len(failed) > 0 { // no kill: keep trying what was refused (429, 503)
		for try := 0; try < 50 && len(failed) > 0; try++ {
			time.Sleep(100 * time.Millisecond)
			var still []int
			for _, i := range failed {
				if !l.post(client, addr, []int{i}) {
					still = append(still, i)
				}
			}
			failed = still
		}
	}
	return failed
}

// post sends one request and records its acknowledgements; false when it was not acknowledged.
func (l *loadClient) post(client *http.Client, addr string, idx []int) bool {
	var b bytes.Buffer
	if len(idx) == 1 {
		b.Write(l.lines[idx[0]])
	} else {
		b.WriteByte('[')
		for k, i := range idx {
			if k > 0 {
				b.WriteByte(',')
			}
			b.Write(l.lines[i])
		}
		b.WriteByte(']')
	}
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/events", &b)
	req.Header.Set("Authorization", "Bearer "+l.key)
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		if err == nil && res.StatusCode != http.StatusTooManyRequests && res.StatusCode != http.StatusServiceUnavailable {
			l.errorf("POST %d events: %d %s", len(idx), res.StatusCode, data)
		}
		return false
	}
	type result struct {
		ID       string          `json:"id"`
		Status   string          `json:"status"`
		Decision *event.Decision `json:"decision"`
	}
	var results []result
	if len(idx) == 1 {
		var r result
		err = json.Unmarshal(data, &r)
		results = []result{r}
	} else {
		var v struct{ Results []result }
		err = json.Unmarshal(data, &v)
		results = v.Results
	}
	if err != nil || len(results) != len(idx) {
		l.errorf("POST answer %s: %v", data, err)
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, r := range results {
		id := l.ids[idx[k]]
		if r.ID != id {
			l.errorf("answer %d names %q, want %q", k, r.ID, id)
			continue
		}
		switch r.Status {
		case "accepted", "decided":
			if prev, ok := l.acked[id]; ok && r.Status == "decided" && prev != nil {
				l.errorf("event %s decided twice: %+v then %+v", id, prev, r.Decision)
			}
			l.acked[id] = r.Decision
		case "duplicate":
			if _, ok := l.acked[id]; !ok {
				l.acked[id] = r.Decision // stored by a request whose answer the kill lost
			}
		default:
			l.errorf("event %s: status %q (%s)", id, r.Status, data)
		}
	}
	return true
}

type storeState struct {
	events int
	raws   [][]byte
}

// verifyStore opens the data directory's store and checks it against what the clients were told.
func verifyStore(t *testing.T, data string, l *loadClient, when string) storeState {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(data, "brokerguard.db"), sqlite.Options{Holder: "crash test"})
	if err != nil {
		t.Fatalf("%s: open: %v", when, err)
	}
	defer s.Close()
	var st storeState
	seen := map[string]bool{}
	err = s.ScanEvents(ctx, 0, func(_ int64, rec store.EventRecord) error {
		if seen[rec.ID] {
			return fmt.Errorf("event %s stored twice", rec.ID)
		}
		seen[rec.ID] = true
		st.raws = append(st.raws, bytes.Clone(rec.Raw))
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	st.events = len(seen)
	c, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Events != int64(st.events) {
		t.Errorf("%s: Counts.Events %d, rows %d", when, c.Events, st.events)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ackedIDs := make([]string, 0, len(l.acked))
	for id := range l.acked {
		ackedIDs = append(ackedIDs, id)
	}
	held, err := s.EventsHeld(ctx, ackedIDs)
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for i, h := range held {
		if !h || !seen[ackedIDs[i]] {
			if lost++; lost <= 5 {
				t.Errorf("%s: acknowledged event %s lost", when, ackedIDs[i])
			}
		}
	}
	// Every decision once, and each acknowledged one as it was acknowledged.
	decided := map[string]int{}
	for before := int64(0); ; {
		ds, err := s.Decisions(ctx, store.DecisionQuery{Before: before, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			decided[d.ID]++
			if decided[d.ID] == 2 {
				t.Errorf("%s: event %s has two decisions", when, d.ID)
			}
			before = d.Seq
		}
		if len(ds) < 1000 {
			break
		}
	}
	n := 0
	for _, v := range decided {
		n += v
	}
	if int64(n) != c.Decisions {
		t.Errorf("%s: Counts.Decisions %d, rows %d", when, c.Decisions, n)
	}
	for id, want := range l.acked {
		if want == nil {
			continue
		}
		got, err := s.Decision(ctx, id)
		if err != nil || got.Action != want.Action || got.Score != want.Score {
			if lost++; lost <= 10 {
				t.Errorf("%s: acknowledged decision of %s: stored %+v, %v; acknowledged %+v", when, id, got.Decision, err, *want)
			}
		}
	}
	alerts := map[string]bool{}
	for before := int64(0); ; {
		as, err := s.Alerts(ctx, store.AlertQuery{Before: before, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			if alerts[a.ID] {
				t.Errorf("%s: alert %s stored twice", when, a.ID)
			}
			alerts[a.ID] = true
			before = a.Seq
		}
		if len(as) < 1000 {
			break
		}
	}
	if int64(len(alerts)) != c.Alerts {
		t.Errorf("%s: Counts.Alerts %d, rows %d", when, c.Alerts, len(alerts))
	}
	if t.Failed() {
		t.FailNow()
	}
	return st
}
