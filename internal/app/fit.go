package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/ingest"
	"github.com/brokerguard/brokerguard/internal/sim"
)

// runFit fits the scoring model's weights on simulated firms: each scenario under each seed is
// simulated (varied with --vary), decided on by an engine scoring with the starting model, and every
// decided event becomes an example labelled by the simulation's truth (an attacker's event or a
// customer's own; the criminals' own accounts are left out). The fitted model keeps the starting
// model's signals and interactions, with weights that only add risk; it is written as a model file
// for --model, with the command that produced it.
func runFit(ctx context.Context, args []string, std IO) error {
	fs := newFlags("fit", "--scenario NAME[,NAME…] --seeds N --out FILE [flags]", std)
	var c common
	fs.StringVar(&c.config, "config", "", "configuration file (YAML) for the engine; see brokerguard.example.yaml")
	fs.StringVar(&c.ipdb, "ipdb", "", "IP intelligence folder (default: the simulator's embedded table of real networks)")
	fs.StringVar(&c.model, "model", "", "the model to start from (default: the shipped model)")
	scenarios := fs.String("scenario", "small,demo", "scenarios, comma-separated: built-in names ("+strings.Join(sim.BuiltinScenarios(), ", ")+") or YAML files")
	seeds := fs.Int("seeds", 4, "seeds per scenario: N seeds from --first-seed")
	firstSeed := fs.Int64("first-seed", 1001, "the first seed (keep them apart from the seeds the model is evaluated on)")
	vary := fs.Bool("vary", true, "draw every attack and market parameter per seed from wide ranges")
	accounts := fs.Int("accounts", 0, "accounts to simulate (0: each scenario's)")
	days := fs.Int("days", 0, "trading days to simulate (0: each scenario's)")
	attackWeight := fs.Float64("attack-weight", 20, "how much an attacker's event counts against a customer's own in the loss")
	l2 := fs.Float64("l2", 0.001, "pull of each weight toward the starting model's")
	iterations := fs.Int("iterations", 400, "iterations of the optimiser")
	fitBias := fs.Bool("fit-bias", false, "fit each event type's bias too (by default it stays the starting model's: the simulator's share of attackers per type is not a firm's)")
	out := fs.String("out", "", "write the fitted model here (required)")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if *out == "" || fs.NArg() > 0 || *seeds < 1 || *attackWeight <= 0 || *l2 < 0 {
		fmt.Fprintln(std.Stderr, "brokerguard fit: --out is required; --seeds at least 1; --attack-weight above 0; --l2 not below 0")
		fs.Usage()
		return ErrUsage
	}
	cfg, err := loadConfig(fs, &c, std.Environ)
	if err != nil {
		return err
	}
	cfg.Log.Level = "warn"
	log := newLogger(std.Stderr, cfg)
	prior := detect.DefaultModel()
	if cfg.Model != "" {
		if prior, err = detect.LoadModel(cfg.Model); err != nil {
			return err
		}
	}
	var examples []detect.Example
	for _, name := range strings.Split(*scenarios, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		sc, err := loadScenario(name)
		if err != nil {
			return err
		}
		for k := 0; k < *seeds; k++ {
			seed := *firstSeed + int64(k)
			exs, err := fitExamples(ctx, cfg, prior, sc, sim.Options{Seed: seed, Accounts: *accounts, Days: *days, Vary: *vary}, *attackWeight)
			if err != nil {
				return fmt.Errorf("%s seed %d: %w", name, seed, err)
			}
			attacks := 0
			for i := range exs {
				if exs[i].Attack {
					attacks++
				}
			}
			fmt.Fprintf(std.Stderr, "fit: %s seed %d: %d decided events, %d of them an attacker's\n", name, seed, len(exs), attacks)
			examples = append(examples, exs...)
		}
	}
	_ = log
	fitted, rep, err := detect.Fit(prior, examples, detect.FitOptions{L2: *l2, Iterations: *iterations, KeepBias: !*fitBias})
	if err != nil {
		return err
	}
	fitted.Version = prior.Version + "+fit"
	var b bytes.Buffer
	fmt.Fprintf(&b, "# brokerguard's scoring model, fitted by\n#   brokerguard fit %s\n", strings.Join(args, " "))
	fmt.Fprintf(&b, "# from %s (%d decided events, %d of them an attacker's); mean weighted logistic loss %.4f -> %.4f.\n",
		prior.Version, rep.Examples, rep.Attacks, rep.LossBefore, rep.LossAfter)
	fmt.Fprintln(&b, "# Weights are log-odds that a fully raised signal adds; none is below zero, so every reason adds risk.")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(fitted); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	// The file must load as a model.
	if _, err := detect.ParseModel(b.Bytes(), *out); err != nil {
		return fmt.Errorf("fit: the fitted model does not load: %w", err)
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(std.Stderr, "fit: %d examples (%d an attacker's), %d weights; loss %.4f -> %.4f; model written to %s\n",
		rep.Examples, rep.Attacks, rep.Features, rep.LossBefore, rep.LossAfter, *out)
	return nil
}

// fitExamples simulates one firm and returns its decided events as examples, scored by prior.
func fitExamples(ctx context.Context, cfg config.Config, prior *detect.Model, sc *sim.Scenario, opts sim.Options, attackWeight float64) ([]detect.Example, error) {
	rec := &detect.Recorder{Model: prior}
	var out []detect.Example
	var ids []idAccount
	var observeErr error
	truthDoc, _, _, err := replaySimulated(ctx, cfg, newLogger(io.Discard, cfg), rec, sc, opts, ingest.ReplayOptions{
		Observe: func(ev *event.Event, o *detect.Outcome) {
			if !o.Decided || observeErr != nil {
				return
			}
			ex, ok := rec.Next()
			if !ok || ex.Type != ev.Type {
				observeErr = fmt.Errorf("event %s: the signals recorded for it are of a %s", ev.ID, ex.Type)
				return
			}
			ex.Weight = 1
			out = append(out, ex)
			ids = append(ids, idAccount{ev.ID, ev.Account})
		}})
	if err == nil {
		err = observeErr
	}
	if _, left := rec.Next(); err == nil && left {
		err = fmt.Errorf("the engine scored events that no decision came out for")
	}
	if err != nil {
		return nil, err
	}
	var truth sim.Truth
	if err := json.Unmarshal(truthDoc, &truth); err != nil {
		return nil, fmt.Errorf("truth: %w", err)
	}
	attackerEvents, criminals := map[string]bool{}, map[string]bool{}
	for _, tk := range truth.Takeovers {
		for _, e := range tk.Events {
			attackerEvents[e.ID] = true
		}
	}
	for _, a := range truth.Beneficiaries {
		criminals[a] = true
	}
	// Label the examples; the criminals' own accounts are neither a customer's nor a takeover.
	kept := out[:0]
	for i, ex := range out {
		id := ids[i]
		if criminals[id.account] && !attackerEvents[id.id] {
			continue
		}
		ex.Attack = attackerEvents[id.id]
		if ex.Attack {
			ex.Weight = attackWeight
		}
		kept = append(kept, ex)
	}
	return kept, nil
}

type idAccount struct{ id, account string }
