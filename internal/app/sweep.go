package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/evaluate"
	"github.com/brokerguard/brokerguard/internal/ingest"
	"github.com/brokerguard/brokerguard/internal/sim"
)

// runSweep simulates each scenario under many seeds, decides on each run with a fresh engine and no
// store, evaluates it against its truth, and prints every measure's median and worst case over the
// seeds, with the seed that gave the worst. Everything happens in memory.
func runSweep(ctx context.Context, args []string, std IO) error {
	fs := newFlags("sweep", "--scenario NAME[,NAME…] --seeds N [flags]", std)
	var c common
	fs.StringVar(&c.config, "config", "", "configuration file (YAML) for the engine; see brokerguard.example.yaml")
	fs.StringVar(&c.ipdb, "ipdb", "", "IP intelligence folder (default: the simulator's embedded table of real networks)")
	fs.StringVar(&c.rules, "rules", "", "rules file (default: the shipped rule pack)")
	fs.StringVar(&c.model, "model", "", "scoring model file (default: the shipped model)")
	fs.BoolVar(&c.noCampaign, "no-campaign", false, "turn the cross-account campaign layer off")
	scenarios := fs.String("scenario", "small", "scenarios, comma-separated: built-in names ("+strings.Join(sim.BuiltinScenarios(), ", ")+") or YAML files")
	seeds := fs.Int("seeds", 5, "seeds per scenario: N seeds from --first-seed")
	firstSeed := fs.Int64("first-seed", 1, "the first seed (seeds apart from those a model was fitted on evaluate it fairly)")
	vary := fs.Bool("vary", false, "draw every attack and market parameter per seed from wide ranges, instead of the scenario's")
	accounts := fs.Int("accounts", 0, "accounts to simulate (0: each scenario's)")
	days := fs.Int("days", 0, "trading days to simulate (0: each scenario's)")
	jsonOut := fs.Bool("json", false, "print the summary as JSON (for machines), with every seed's figures, instead of the table")
	parallel := fs.Int("parallel", 1, "runs at a time (each run's replay uses about two cores)")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(std.Stderr, "brokerguard sweep: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return ErrUsage
	}
	var names []string
	for _, n := range strings.Split(*scenarios, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	bad := func(msg string) error {
		fmt.Fprintf(std.Stderr, "brokerguard sweep: %s\n", msg)
		fs.Usage()
		return ErrUsage
	}
	switch {
	case len(names) == 0:
		return bad("--scenario names no scenario")
	case *seeds < 1:
		return bad(fmt.Sprintf("--seeds %d: want 1 or more", *seeds))
	case *parallel < 1:
		return bad(fmt.Sprintf("--parallel %d: want 1 or more", *parallel))
	case *accounts < 0:
		return bad(fmt.Sprintf("--accounts %d: want 0 (the scenario's) or more", *accounts))
	case *days < 0:
		return bad(fmt.Sprintf("--days %d: want 0 (the scenario's) or more", *days))
	}
	cfg, err := loadConfig(fs, &c, std.Environ)
	if err != nil {
		return err
	}
	if cfg.Log.Level == "info" || cfg.Log.Level == "debug" {
		cfg.Log.Level = "warn" // one engine per run: its start-up lines would bury the results
	}
	log := newLogger(std.Stderr, cfg)
	batchGC(std.Environ)
	scs := make([]*sim.Scenario, len(names))
	for i, n := range names {
		if scs[i], err = loadScenario(n); err != nil {
			return err
		}
	}
	sw, err := sweep(ctx, sweepPlan{cfg: cfg, log: log, names: names, scenarios: scs, seeds: *seeds, firstSeed: *firstSeed,
		opts: sim.Options{Accounts: *accounts, Days: *days, Vary: *vary}, parallel: *parallel, progress: std.Stderr})
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSONReport(std.Stdout, sw)
	}
	return sw.WriteTable(std.Stdout)
}

// sweepPlan is what a sweep runs: every scenario under seeds firstSeed to firstSeed+seeds-1.
type sweepPlan struct {
	cfg       config.Config
	log       *slog.Logger
	names     []string
	scenarios []*sim.Scenario
	seeds     int
	firstSeed int64       // 0 is taken as 1
	opts      sim.Options // Accounts, Days and Vary; the seed is set per run
	parallel  int
	progress  io.Writer // a line per finished run (nil: none)
}

type sweepResult struct {
	rep   *evaluate.Report
	stats sweepStats
}

// sweep runs the plan, parallel runs at a time, and summarizes each scenario's reports in seed order:
// the summary does not depend on the order in which runs finish.
func sweep(ctx context.Context, plan sweepPlan) (*evaluate.Sweep, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := len(plan.scenarios) * plan.seeds
	results := make([]sweepResult, n)
	errs := make([]error, n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range min(plan.parallel, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				si, seed := j/plan.seeds, max(plan.firstSeed, 1)+int64(j%plan.seeds)
				began := time.Now()
				opts := plan.opts
				opts.Seed = seed
				rep, st, err := sweepRun(ctx, plan.cfg, plan.log, plan.scenarios[si], opts)
				if err != nil {
					errs[j] = fmt.Errorf("scenario %s, seed %d: %w", plan.names[si], seed, err)
					cancel()
					continue
				}
				results[j] = sweepResult{rep, st}
				if plan.progress != nil {
					mu.Lock()
					done++
					rejected := ""
					if st.rejected > 0 {
						rejected = fmt.Sprintf(" (%d rejected by the replay)", st.rejected)
					}
					fmt.Fprintf(plan.progress, "sweep %d/%d: scenario %s seed %d: %d events%s, %d takeovers, %d campaigns in %s\n", done, n,
						plan.names[si], seed, st.Events, rejected, st.Takeovers, st.Campaigns, time.Since(began).Round(100*time.Millisecond))
					mu.Unlock()
				}
			}
		}()
	}
	for j := 0; j < n && ctx.Err() == nil; j++ {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := &evaluate.Sweep{Scenarios: make([]evaluate.ScenarioSweep, len(plan.scenarios))}
	for si := range plan.scenarios {
		reps := make([]*evaluate.Report, plan.seeds)
		for k := range reps {
			reps[k] = results[si*plan.seeds+k].rep
		}
		s := evaluate.Summarize(plan.names[si], reps)
		s.Vary = plan.opts.Vary
		s.Accounts = results[si*plan.seeds].stats.Accounts
		out.Scenarios[si] = s
	}
	return out, nil
}

// sweepRun simulates one scenario and seed into memory, decides on its events with a fresh engine
// and no store (the IP intelligence of cfg, or the simulator's table as in the demo), and evaluates
// the decisions and alerts against the truth.
func sweepRun(ctx context.Context, cfg config.Config, log *slog.Logger, sc *sim.Scenario, opts sim.Options) (*evaluate.Report, sweepStats, error) {
	var decisions, alerts bytes.Buffer
	truth, st, sum, err := replaySimulated(ctx, cfg, log, nil, sc, opts, ingest.ReplayOptions{Decisions: &decisions, Alerts: &alerts})
	if err != nil {
		return nil, sweepStats{}, err
	}
	rep, err := evaluate.Evaluate(bytes.NewReader(truth), &decisions, &alerts)
	return rep, sweepStats{Stats: st, rejected: sum.ErrorCount()}, err
}

// replaySimulated simulates one scenario and seed into memory and replays its events through a fresh
// engine (scoring with scorer when it is set) with no store, with the IP intelligence of cfg or, by
// default, the simulator's table as in the demo. ro names the outputs; its engine, timing and limits
// are set here. It returns the truth document.
func replaySimulated(ctx context.Context, cfg config.Config, log *slog.Logger, scorer detect.Scorer, sc *sim.Scenario, opts sim.Options,
	ro ingest.ReplayOptions) ([]byte, sim.Stats, ingest.Summary, error) {
	var events, truth bytes.Buffer
	st, err := sim.Generate(ctx, sc, opts, &events, &truth)
	if err != nil {
		return nil, st, ingest.Summary{}, err
	}
	with := engineWith{scorer: scorer}
	if cfg.IPDB == "" {
		with.ip = sim.IPIntel()
	}
	p, err := buildEngineWith(cfg, log, with)
	if err != nil {
		return nil, st, ingest.Summary{}, err
	}
	defer p.Close()
	ro.Engine, ro.Timing, ro.Limits = p.engine, ingest.Timing{Lateness: cfg.Lateness, Now: time.Now}, cfg.Limits.Event()
	sum, err := ingest.Replay(ctx, bytes.NewReader(events.Bytes()), ro)
	return truth.Bytes(), st, sum, err
}

// sweepStats are a run's simulation figures and the events its replay rejected.
type sweepStats struct {
	sim.Stats
	rejected int64
}
