package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/evaluate"
	"github.com/brokerguard/brokerguard/internal/sim"
)

func runSimulate(ctx context.Context, args []string, std IO) error {
	fs := newFlags("simulate", "--out EVENTS.jsonl --truth TRUTH.json [flags]", std)
	scenario := fs.String("scenario", "demo", "scenario: a built-in name ("+strings.Join(sim.BuiltinScenarios(), ", ")+") or a YAML file")
	out := fs.String("out", "", "write the event log here (JSON Lines; - for standard output) (required)")
	truth := fs.String("truth", "", "write the ground truth here (JSON) (required)")
	seed := fs.Int64("seed", 1, "random seed: the same seed gives the same output")
	accounts := fs.Int("accounts", 0, "accounts (0: the scenario's)")
	days := fs.Int("days", 0, "trading days (0: the scenario's)")
	vary := fs.Bool("vary", false, "draw the attack, market and surprise parameters from wide ranges (per seed); the truth records the draws")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if *out == "" || *truth == "" {
		fmt.Fprintln(std.Stderr, "brokerguard simulate: --out and --truth are required")
		fs.Usage()
		return ErrUsage
	}
	sc, err := loadScenario(*scenario)
	if err != nil {
		return err
	}
	ew, eclose, err := openOutput(*out, std.Stdout)
	if err != nil {
		return fmt.Errorf("out: %w", err)
	}
	tf, err := os.Create(*truth)
	if err != nil {
		return fmt.Errorf("truth: %w", err)
	}
	defer tf.Close()
	bw := bufio.NewWriterSize(ew, 1<<20)
	began := time.Now()
	prog := newProgress(std.Stderr)
	st, err := sim.Generate(ctx, sc, sim.Options{Seed: *seed, Accounts: *accounts, Days: *days, Vary: *vary, Progress: func(done, total int64) {
		prog.show("simulating", float64(done)/float64(max(total, 1)))
	}}, bw, tf)
	prog.clear()
	elapsed := time.Since(began)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := eclose(); err == nil {
		err = cerr
	}
	if err == nil {
		err = tf.Close()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(std.Stderr, "simulated %d events (%d accounts, %d instruments, %d trading days; %d takeovers, %d campaigns) in %s = %.0f events/s\n",
		st.Events, st.Accounts, st.Instruments, st.TradingDays, st.Takeovers, st.Campaigns, elapsed.Round(time.Millisecond),
		float64(st.Events)/elapsed.Seconds())
	keys := make([]string, 0, len(st.ByType))
	for k := range st.ByType {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, st.ByType[k])
	}
	fmt.Fprintf(std.Stderr, "by type: %s\n", strings.Join(parts, ", "))
	return nil
}

func runEvaluate(ctx context.Context, args []string, std IO) error {
	fs := newFlags("evaluate", "--truth T --decisions D --alerts A [--json]", std)
	truth := fs.String("truth", "", "ground truth written by simulate (required)")
	decisions := fs.String("decisions", "", "decisions written by replay (required)")
	alerts := fs.String("alerts", "", "alerts written by replay (required)")
	jsonOut := fs.Bool("json", false, "print the figures as JSON only (for machines), instead of the table")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(std.Stderr, "brokerguard evaluate: unexpected argument %q (--json takes no value: it prints the JSON to standard output)\n", fs.Arg(0))
		fs.Usage()
		return ErrUsage
	}
	if *truth == "" || *decisions == "" || *alerts == "" {
		fmt.Fprintln(std.Stderr, "brokerguard evaluate: --truth, --decisions and --alerts are required")
		fs.Usage()
		return ErrUsage
	}
	rep, err := evaluateFiles(*truth, *decisions, *alerts)
	if err != nil {
		return err
	}
	if *jsonOut {
		return writeJSONReport(std.Stdout, rep)
	}
	return rep.WriteTable(std.Stdout)
}

// evaluateFiles evaluates the files; an input that is not what it should be is an error naming the
// file (evaluate.InputError).
func evaluateFiles(truth, decisions, alerts string) (*evaluate.Report, error) {
	paths := map[string]string{evaluate.InputTruth: truth, evaluate.InputDecisions: decisions, evaluate.InputAlerts: alerts}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, in := range []string{evaluate.InputTruth, evaluate.InputDecisions, evaluate.InputAlerts} {
		f, err := os.Open(paths[in])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in, err)
		}
		files = append(files, f)
	}
	rep, err := evaluate.Evaluate(files[0], files[1], files[2])
	var ie *evaluate.InputError
	if errors.As(err, &ie) {
		ie.Path = paths[ie.Input]
	}
	return rep, err
}
