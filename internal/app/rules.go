package app

import (
	"context"
	"fmt"

	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/ipintel"
	"github.com/brokerguard/brokerguard/internal/rules"
	"github.com/brokerguard/brokerguard/internal/ruletest"
)

func runRules(ctx context.Context, args []string, std IO) error {
	if len(args) == 0 || (args[0] != "check" && args[0] != "test" && args[0] != "show-default") {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			fmt.Fprintln(std.Stdout, rulesUsage)
			return nil
		}
		fmt.Fprintln(std.Stderr, rulesUsage)
		return ErrUsage
	}
	switch args[0] {
	case "show-default":
		_, err := std.Stdout.Write(rules.DefaultSource())
		return err
	case "check":
		fs := newFlags("rules check", "FILE…", std)
		if err := parse(fs, args[1:], std); err != nil {
			return helpOK(err)
		}
		if fs.NArg() == 0 {
			fs.Usage()
			return ErrUsage
		}
		for _, f := range fs.Args() {
			s, err := rules.Load(f)
			if err != nil {
				return err
			}
			fmt.Fprintf(std.Stdout, "%s: version %s, %d %s, valid\n", f, s.Version, s.Len(), plural(s.Len(), "rule", "rules"))
		}
		return nil
	}
	fs := newFlags("rules test", "[--rules FILE] [--ipdb DIR] TESTFILE…", std)
	rulesFile := fs.String("rules", "", "rules under test (default: the test file's rules: entry, else the shipped pack)")
	ipdb := fs.String("ipdb", "", "IP intelligence folder, for tests marked needs_ipdb")
	model := fs.String("model", "", "scoring model file (default: the shipped model)")
	verbose := fs.Bool("v", false, "list every test, not only failures")
	if err := parse(fs, args[1:], std); err != nil {
		return helpOK(err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return ErrUsage
	}
	var o ruletest.Options
	if *rulesFile != "" {
		s, err := rules.Load(*rulesFile)
		if err != nil {
			return err
		}
		o.Rules = s
	}
	if *model != "" {
		m, err := detect.LoadModel(*model)
		if err != nil {
			return err
		}
		o.Model = m
	}
	if *ipdb != "" {
		db, err := ipintel.Open(*ipdb)
		if err != nil {
			return err
		}
		defer db.Close()
		o.IP, o.HasIP = db, true
	}
	passed, failed, skipped := 0, 0, 0
	for _, path := range fs.Args() {
		f, err := ruletest.Load(path)
		if err != nil {
			return err
		}
		results, err := ruletest.Run(f, o)
		if err != nil {
			return err
		}
		for _, r := range results {
			switch {
			case r.Skipped != "":
				skipped++
				if *verbose {
					fmt.Fprintf(std.Stdout, "SKIP %s: %s: %s\n", path, r.Name, r.Skipped)
				}
			case r.Passed():
				passed++
				if *verbose {
					fmt.Fprintf(std.Stdout, "ok   %s: %s\n", path, r.Name)
				}
			default:
				failed++
				fmt.Fprintf(std.Stdout, "FAIL %s: %s\n", path, r.Name)
				for _, msg := range r.Failures {
					fmt.Fprintf(std.Stdout, "     %s\n", msg)
				}
			}
		}
	}
	fmt.Fprintf(std.Stdout, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 {
		return fmt.Errorf("rules test: %d %s failed", failed, plural(failed, "test", "tests"))
	}
	return nil
}

const rulesUsage = `Usage:
  brokerguard rules check FILE…             validate and compile rules files
  brokerguard rules test [flags] TESTFILE…  run rule tests: event timelines with expected decisions
  brokerguard rules show-default            print the shipped rule pack (a starting point for your own)`
