package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/httpapi"
	"github.com/brokerguard/brokerguard/internal/ingest"
	"github.com/brokerguard/brokerguard/internal/sim"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

func runBench(ctx context.Context, args []string, std IO) error {
	fs := newFlags("bench", "[flags]", std)
	var c common
	addCommon(fs, &c)
	scenario := fs.String("scenario", "demo", "simulator scenario that generates the events (built-in name or YAML file)")
	accounts := fs.Int("accounts", 0, "accounts to simulate (0: the scenario's)")
	days := fs.Int("days", 0, "trading days to simulate (0: the scenario's)")
	runs := fs.Int("runs", 3, "replay runs; the median is reported (0: skip the replay)")
	noStore := fs.Bool("no-store", false, "replay without SQLite persistence")
	httpRate := fs.Int("http-rate", 0, "also load the HTTP API at this many requests/s (e.g. 5000); with --overload, the rate taken as sustained")
	overload := fs.Bool("overload", false, "load the API served in this process at twice the rate it sustains (found by a short probe, or --http-rate) for --http-duration: report the share shed, the latency of accepted requests and the peak heap")
	httpDur := fs.Duration("http-duration", 10*time.Second, "how long to load the HTTP API")
	httpTarget := fs.String("http-target", "", "load this running server (e.g. http://127.0.0.1:8080) instead of one served in this process; it should start empty")
	httpKeyEnv := fs.String("http-key-env", "BROKERGUARD_BENCH_KEY", "environment variable holding an ingest key for --http-target")
	memAccounts := fs.Int("memory-accounts", 0, "also load this many account snapshots and report heap per account (e.g. 1000000)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole bench to this file")
	logs := fs.String("log", "", "time replays of these log files (comma-separated, replayed in turn into one fresh store per run) against a parse-only JSON scan of each, and print the ratios; no simulation")
	pgDSN := fs.String("postgres", "", "with --log: also replay into a fresh schema of this PostgreSQL database (postgres://…)")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	cfg, err := loadConfig(fs, &c, std.Environ)
	if err != nil {
		return err
	}
	log := newLogger(std.Stderr, cfg)
	batchGC(std.Environ)
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	if *logs != "" {
		if *runs <= 0 {
			return fmt.Errorf("bench --log: --runs must be at least 1, not %d", *runs)
		}
		return benchLogs(ctx, cfg, splitLogs(*logs), *runs, *pgDSN, std.Stdout)
	}
	if *pgDSN != "" {
		return errors.New("bench: --postgres goes with --log")
	}
	sc, err := loadScenario(*scenario)
	if err != nil {
		return err
	}
	var evbuf bytes.Buffer
	began := time.Now()
	st, err := sim.Generate(ctx, sc, sim.Options{Seed: 1, Accounts: *accounts, Days: *days}, &evbuf, io.Discard)
	simulated := time.Since(began)
	if err != nil {
		return err
	}
	fmt.Fprintf(std.Stdout, "events: %d (%.1f MB) from scenario %s: %d accounts, %d trading days; simulated at %.0f events/s\n",
		st.Events, float64(evbuf.Len())/1e6, *scenario, st.Accounts, st.TradingDays, float64(st.Events)/simulated.Seconds())

	// Replay, end to end: decode, profile update, decide, write decisions (and persist to SQLite).
	var rates []float64
	for r := 0; r < *runs; r++ {
		p, err := buildEngine(cfg, log)
		if err != nil {
			return err
		}
		o := ingest.ReplayOptions{Engine: p.engine, Decisions: io.Discard, Alerts: io.Discard,
			Timing: ingest.Timing{Lateness: cfg.Lateness, Now: time.Now}}
		dir, err := os.MkdirTemp("", "brokerguard-bench-")
		if err != nil {
			return err
		}
		var s *sqlite.Store
		if !*noStore {
			if s, err = sqlite.Open(ctx, filepath.Join(dir, "bench.db"), sqlite.Options{}); err != nil {
				return err
			}
			o.Store = s
		}
		sum, err := ingest.Replay(ctx, bytes.NewReader(evbuf.Bytes()), o)
		if s != nil {
			s.Close()
		}
		os.RemoveAll(dir)
		p.Close()
		if err != nil {
			return err
		}
		rates = append(rates, sum.EventsPerSecond())
		fmt.Fprintf(std.Stdout, "replay run %d: %d events in %s = %.0f events/s (%d decisions, %d alerts)\n", r+1, sum.Lines,
			sum.Wall.Round(time.Millisecond), sum.EventsPerSecond(), total(sum.Decisions), total(sum.Alerts))
	}
	persist := "SQLite persistence on"
	if *noStore {
		persist = "no persistence"
	}
	if len(rates) > 0 {
		fmt.Fprintf(std.Stdout, "replay median: %.0f events/s (%s, %d runs)\n", median(rates), persist, len(rates))
	}

	if *overload {
		if *httpTarget != "" {
			return errors.New("--overload loads the server in this process: leave out --http-target")
		}
		return benchOverload(ctx, cfg, evbuf.Bytes(), *httpRate, *httpDur, std.Stdout)
	}
	// In-process decision latency: one event at a time, timed around the engine call.
	if err := benchLatency(cfg, log, evbuf.Bytes(), std.Stdout); err != nil {
		return err
	}
	if *httpRate > 0 {
		if err := benchHTTP(ctx, cfg, evbuf.Bytes(), *httpRate, *httpDur, *httpTarget, getenv(std.Environ, *httpKeyEnv), std.Stdout); err != nil {
			return err
		}
	}
	if *memAccounts > 0 {
		benchMemory(cfg, log, *memAccounts, std.Stdout)
	}
	return nil
}

func loadScenario(name string) (*sim.Scenario, error) {
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") || strings.ContainsRune(name, os.PathSeparator) {
		return sim.LoadScenario(name)
	}
	sc, err := sim.BuiltinScenario(name)
	if err != nil {
		return nil, fmt.Errorf("scenario %q: %w (built in: %s)", name, err, strings.Join(sim.BuiltinScenarios(), ", "))
	}
	return sc, nil
}

func total(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func decodeAll(data []byte) ([]event.Event, error) {
	rd, err := event.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var evs []event.Event
	for {
		line, _, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return nil, err
		}
		ev, err := event.Decode(bytes.Clone(line))
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
}

func benchLatency(cfg config.Config, log interface{ Info(string, ...any) }, data []byte, w io.Writer) error {
	evs, err := decodeAll(data)
	if err != nil {
		return err
	}
	p, err := buildEngine(cfg, newLogger(io.Discard, cfg))
	if err != nil {
		return err
	}
	defer p.Close()
	lat := make([]time.Duration, 0, len(evs)/2)
	for i := range evs {
		start := time.Now()
		out := p.engine.Process(&evs[i])
		d := time.Since(start)
		if out.Decided {
			lat = append(lat, d)
		}
	}
	slices.Sort(lat)
	fmt.Fprintf(w, "decision latency in process (%d decisions): p50 %s, p90 %s, p99 %s, p99.9 %s, max %s\n", len(lat),
		percentile(lat, 0.5), percentile(lat, 0.9), percentile(lat, 0.99), percentile(lat, 0.999), lat[len(lat)-1])
	return nil
}

// benchKey is the admin key of the server that bench serves in its own process.
const benchKey = "bench-key-0123456789abcdef"

// benchServe serves the API in this process, on loopback, with a fresh SQLite store; stop shuts it
// down and removes the store.
func benchServe(ctx context.Context, cfg config.Config) (srv *server, stop func(), err error) {
	dir, err := os.MkdirTemp("", "brokerguard-bench-http-")
	if err != nil {
		return nil, nil, err
	}
	var undo []func()
	stop = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	undo = append(undo, func() { os.RemoveAll(dir) })
	cfg.DataDir, cfg.DB = dir, ""
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.FutureTolerance = 0
	// Concurrent clients reorder neighbouring events; the simulated log's first hours are sparse, so
	// a few minutes of reordering would otherwise be rejected as late.
	cfg.Lateness = 24 * time.Hour
	quiet := newLogger(io.Discard, cfg)
	p, err := buildEngineWith(cfg, quiet, engineWith{lateness: cfg.Lateness})
	if err != nil {
		return nil, nil, err
	}
	undo = append(undo, func() { p.Close() })
	st, _, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	undo = append(undo, func() { st.Close() })
	var k config.APIKey
	k.SetKey(benchKey)
	sctx, cancel := context.WithCancel(ctx)
	srv, err = startServer(sctx, p, st, cfg, []httpapi.Key{{Name: "bench", Role: httpapi.RoleAdmin, Hash: k.Hash()}}, quiet)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	undo = append(undo, func() { cancel(); srv.wait() })
	return srv, stop, nil
}

// benchHTTP serves the API on loopback with a fresh SQLite store and sends single-event POSTs at a fixed
// rate (open loop: a slow answer does not slow the sender), then reports latency percentiles.
func benchHTTP(ctx context.Context, cfg config.Config, data []byte, rate int, dur time.Duration, target, key string, w io.Writer) error {
	if target == "" {
		srv, stop, err := benchServe(ctx, cfg)
		if err != nil {
			return err
		}
		defer stop()
		target, key = "http://"+srv.addr, benchKey
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	n := int(float64(rate) * dur.Seconds())
	if n > len(lines) {
		n = len(lines)
	}
	// A fixed pool of clients with keep-alive connections takes requests from a dispatcher that releases
	// them at the target rate, a millisecond's worth at a time. Latency counts from the release, so a
	// request that waits for a free client is charged for the wait.
	const workers = 128
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}, Timeout: 10 * time.Second}
	url := strings.TrimSuffix(target, "/") + "/v1/events"
	lat := make([]time.Duration, n)
	var errs, non200 int64
	var firstBad string
	var mu sync.Mutex
	type job struct {
		i        int
		released time.Time
	}
	jobs := make(chan job, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for jb := range jobs {
				req, _ := http.NewRequest("POST", url, bytes.NewReader(lines[jb.i]))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				var body []byte
				if err == nil {
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				lat[jb.i] = time.Since(jb.released)
				mu.Lock()
				if err != nil {
					errs++
				} else if resp.StatusCode != 200 {
					non200++
					if firstBad == "" {
						firstBad = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(body))
					}
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for sent := 0; sent < n; {
		time.Sleep(time.Millisecond)
		now := time.Now()
		due := min(n, int(now.Sub(start).Seconds()*float64(rate)))
		for ; sent < due; sent++ {
			jobs <- job{sent, now}
		}
	}
	close(jobs)
	wg.Wait()
	el := time.Since(start)
	slices.Sort(lat)
	fmt.Fprintf(w, "HTTP POST /v1/events, one event per request, %d requests at %d/s target (%.0f/s achieved): p50 %s, p90 %s, p99 %s, p99.9 %s, max %s; %d transport errors, %d non-200\n",
		n, rate, float64(n)/el.Seconds(), percentile(lat, 0.5).Round(time.Microsecond), percentile(lat, 0.9).Round(time.Microsecond),
		percentile(lat, 0.99).Round(time.Microsecond), percentile(lat, 0.999).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond), errs, non200)
	if firstBad != "" {
		fmt.Fprintf(w, "  first non-200 answer: %s\n", firstBad)
	}
	if qs, n, err := serverLatency(target, key, 0.5, 0.99, 0.999); err == nil {
		fmt.Fprintf(w, "  the server's own histogram (%d answers, interpolated within its buckets): p50 %s, p99 %s, p99.9 %s\n", n,
			time.Duration(qs[0]*1e9).Round(time.Microsecond), time.Duration(qs[1]*1e9).Round(time.Microsecond), time.Duration(qs[2]*1e9).Round(time.Microsecond))
	} else {
		fmt.Fprintf(w, "  the server's own histogram: %v\n", err)
	}
	return nil
}

func benchMemory(cfg config.Config, log interface{ Info(string, ...any) }, n int, w io.Writer) {
	p, err := buildEngine(cfg, newLogger(io.Discard, cfg))
	if err != nil {
		fmt.Fprintln(w, "memory:", err)
		return
	}
	defer p.Close()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	base := time.Date(2025, 3, 3, 8, 0, 0, 0, time.FixedZone("", 9*3600))
	syms := []string{"7203", "9984", "8306", "6758", "2914", "4502"}
	for a := 0; a < n; a++ {
		hs := make([]event.Holding, 1+a%3)
		for i := range hs {
			hs[i] = event.Holding{Symbol: syms[(a+i)%len(syms)], Quantity: 100, Cost: 2000}
		}
		ev := event.Event{ID: "s", Type: event.TypeSnapshot, Time: base, Account: fmt.Sprintf("C%08d", a), Cash: 1e6,
			Holdings: hs, MFA: "sms_otp", Notifications: true, Opened: "2015-04-01"}
		p.engine.Process(&ev)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	fmt.Fprintf(w, "memory: %d account snapshots loaded, heap %.0f MB, %.0f bytes per account\n", n,
		float64(after.HeapAlloc)/1e6, float64(after.HeapAlloc-before.HeapAlloc)/float64(n))
	runtime.KeepAlive(p)
}
