package app

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/ingest"
	"github.com/brokerguard/brokerguard/internal/sim"
	"github.com/brokerguard/brokerguard/internal/store"
)

// runDemo is the one-command tour: simulate a firm with a takeover campaign, replay it through the engine
// into embedded SQLite, print what was caught against the ground truth, and serve the API on the result.
func runDemo(ctx context.Context, args []string, std IO) error {
	fs := newFlags("demo", "[flags]", std)
	dataDir := fs.String("data-dir", "brokerguard-demo", "where the demo writes its database, event log, truth, decisions and alerts (replaced on each run)")
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve the API on")
	scenario := fs.String("scenario", "demo", "simulator scenario (built-in name or YAML file)")
	seed := fs.Int64("seed", 1, "simulator seed")
	ipdb := fs.String("ipdb", "", "IP intelligence folder (default: the simulator's embedded table of real networks)")
	noServe := fs.Bool("no-serve", false, "stop after printing the results")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	cfg := config.Default()
	cfg.DataDir, cfg.Server.Listen, cfg.IPDB = *dataDir, *listen, *ipdb
	cfg.Log.Level = "warn"
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(std.Stderr, cfg)
	batchGC(std.Environ)
	start := time.Now()
	prog := newProgress(std.Stderr)

	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return err
	}
	for _, f := range []string{"brokerguard.db", "brokerguard.db-wal", "brokerguard.db-shm"} {
		if err := os.Remove(filepath.Join(*dataDir, f)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("clear previous demo: %w", err)
		}
	}
	eventsPath := filepath.Join(*dataDir, "events.jsonl")
	truthPath := filepath.Join(*dataDir, "truth.json")
	decPath := filepath.Join(*dataDir, "decisions.jsonl")
	alertPath := filepath.Join(*dataDir, "alerts.jsonl")

	// 1. Simulate.
	sc, err := loadScenario(*scenario)
	if err != nil {
		return err
	}
	fmt.Fprintf(std.Stderr, "brokerguard demo: simulating scenario %s (seed %d) into %s, then deciding on every event; this takes about a minute\n",
		*scenario, *seed, *dataDir)
	st, err := writeSimulation(ctx, sc, *seed, eventsPath, truthPath, func(done, total int64) {
		prog.show("simulating", float64(done)/float64(max(total, 1)))
	})
	if err != nil {
		return err
	}
	prog.done(fmt.Sprintf("simulated %d accounts over %d trading days: %d events, %d takeovers, %d campaigns",
		st.Accounts, st.TradingDays, st.Events, st.Takeovers, st.Campaigns))

	// 2. Replay into embedded SQLite.
	var simIP detect.IPIntel
	if cfg.IPDB == "" {
		simIP = sim.IPIntel()
	}
	p, err := buildEngineWith(cfg, log, engineWith{ip: simIP})
	if err != nil {
		return err
	}
	db, where, err := openStore(ctx, cfg)
	if err != nil {
		p.Close()
		return err
	}
	defer db.Close()
	if _, err := announceStore(ctx, std.Stderr, db, where); err != nil {
		return err
	}
	sum, err := replayFiles(ctx, p, db, cfg, eventsPath, decPath, alertPath, func(lines int64) {
		prog.show("deciding", float64(lines)/float64(max(st.Events, 1)))
	})
	p.Close()
	if err != nil {
		return err
	}
	prog.done(fmt.Sprintf("decided on %d events in %s (%.0f events/s) into %s: %d decisions, %d alerts",
		sum.Lines, sum.Wall.Round(time.Millisecond), sum.EventsPerSecond(), where, total(sum.Decisions), total(sum.Alerts)))

	// 3. What was caught.
	rep, err := evaluateFiles(truthPath, decPath, alertPath)
	if err != nil {
		return err
	}
	fmt.Fprintln(std.Stdout)
	if err := rep.WriteTable(std.Stdout); err != nil {
		return err
	}
	fmt.Fprintf(std.Stdout, "\nFiles: %s, %s, %s, %s\n", eventsPath, truthPath, decPath, alertPath)
	if *noServe {
		return nil
	}

	// 4. Serve the result: a fresh engine rebuilt from the store, as after a restart.
	p2, err := buildEngineWith(cfg, log, engineWith{ip: simIP, lateness: cfg.Lateness})
	if err != nil {
		return err
	}
	defer p2.Close()
	keys, err := apiKeys(cfg, log)
	if err != nil {
		return err
	}
	keyFile := filepath.Join(*dataDir, "api-key")
	staff, err := issueDemoKeys(ctx, db, *dataDir, time.Now())
	if err != nil {
		return err
	}
	demoUser, err := addDemoUser(ctx, db, *dataDir, time.Now())
	if err != nil {
		return err
	}
	srv, err := startServer(ctx, p2, db, cfg, keys, log)
	if err != nil {
		return err
	}
	printDemoUser(std.Stdout, srv.addr, demoUser)
	fmt.Fprintf(std.Stdout, "\nReady in %s. The API is at http://%s. Its keys, in files that only you can read:\n", time.Since(start).Round(100*time.Millisecond), srv.addr)
	printKeys(std.Stdout, append([]demoKey{{"KEY", "admin", keyFile, "everything"}}, staff...))
	fmt.Fprintf(std.Stdout, "  curl -H \"Authorization: Bearer $(cat %s)\" 'http://%s/v1/alerts?kind=account_takeover&limit=5'\n", keyFile, srv.addr)
	fmt.Fprintf(std.Stdout, "  curl -H \"Authorization: Bearer $(cat %s)\" 'http://%s/v1/decisions?action=hold&limit=5'\n", keyFile, srv.addr)
	fmt.Fprintln(std.Stdout, "IP data: ranges derived from ip-location-db (RouteViews, NRO, DB-IP: IP Geolocation by DB-IP), CC BY 4.0.")
	fmt.Fprintln(std.Stdout, "Serving until Ctrl-C.")
	return srv.wait()
}

func writeSimulation(ctx context.Context, sc *sim.Scenario, seed int64, eventsPath, truthPath string, progress func(done, total int64)) (sim.Stats, error) {
	ef, err := os.Create(eventsPath)
	if err != nil {
		return sim.Stats{}, err
	}
	defer ef.Close()
	tf, err := os.Create(truthPath)
	if err != nil {
		return sim.Stats{}, err
	}
	defer tf.Close()
	bw := bufio.NewWriterSize(ef, 1<<20)
	st, err := sim.Generate(ctx, sc, sim.Options{Seed: seed, Progress: progress}, bw, tf)
	if err != nil {
		return st, err
	}
	if err := bw.Flush(); err != nil {
		return st, err
	}
	if err := ef.Close(); err != nil {
		return st, err
	}
	return st, tf.Close()
}

func replayFiles(ctx context.Context, p *parts, st store.Store, cfg config.Config, events, decisions, alerts string, progress func(int64)) (ingest.Summary, error) {
	in, err := os.Open(events)
	if err != nil {
		return ingest.Summary{}, err
	}
	defer in.Close()
	df, err := os.Create(decisions)
	if err != nil {
		return ingest.Summary{}, err
	}
	defer df.Close()
	af, err := os.Create(alerts)
	if err != nil {
		return ingest.Summary{}, err
	}
	defer af.Close()
	sum, err := ingest.Replay(ctx, in, ingest.ReplayOptions{Engine: p.engine, Store: st, Decisions: df, Alerts: af,
		Timing: ingest.Timing{Lateness: cfg.Lateness, Now: time.Now}, Progress: progress})
	if err != nil {
		return sum, err
	}
	if err := df.Close(); err != nil {
		return sum, err
	}
	return sum, af.Close()
}
