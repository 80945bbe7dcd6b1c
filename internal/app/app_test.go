package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Environ: []string{}})
	return out.String(), errb.String(), err
}

func TestEveryCommandHasHelp(t *testing.T) {
	for name := range commands() {
		t.Run(name, func(t *testing.T) {
			out, _, err := run(t, name, "--help")
			if err != nil {
				t.Fatalf("%s --help: %v", name, err)
			}
			if !strings.Contains(out, "Usage") {
				t.Errorf("%s --help printed %q, want a usage", name, out)
			}
		})
	}
	if _, errOut, err := run(t, "frobnicate"); !errors.Is(err, ErrUsage) || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %v %q", err, errOut)
	}
}

func TestReplayCommand(t *testing.T) {
	dir := t.TempDir()
	dec := filepath.Join(dir, "d.jsonl")
	_, errOut, err := run(t, "replay", "--events", "../../testdata/sample.jsonl", "--decisions", dec,
		"--alerts", filepath.Join(dir, "a.jsonl"), "--data-dir", filepath.Join(dir, "data"))
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	b, _ := os.ReadFile(dec)
	if n := bytes.Count(b, []byte("\n")); n < 10 {
		t.Errorf("got %d decisions", n)
	}
	for _, want := range []string{"events: 35 lines, 35 accepted", "decisions:", "alerts: account_takeover"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("summary lacks %q:\n%s", want, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "brokerguard.db")); err != nil {
		t.Errorf("no database in the data directory: %v", err)
	}
	if _, _, err := run(t, "replay", "--events", filepath.Join(dir, "missing.jsonl"), "--no-store"); err == nil || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Errorf("missing input: got %v, want an error naming the file", err)
	}
	if _, _, err := run(t, "replay"); !errors.Is(err, ErrUsage) {
		t.Errorf("no --events: got %v, want a usage error", err)
	}
}

func TestRulesCommands(t *testing.T) {
	out, _, err := run(t, "rules", "test", "../ruletest/testdata/default.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "0 failed") {
		t.Errorf("got %q", out)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: x\nrules:\n  - name: r1\n    when: event.sidee == 'buy'\n    action: hold\n    reason: {code: X1}\n"), 0o600)
	_, _, err = run(t, "rules", "check", bad)
	if err == nil || !strings.Contains(err.Error(), "rules[0] (r1): when:") || !strings.Contains(err.Error(), "sidee") {
		t.Errorf("got %v, want an error naming the rule, the key and the field", err)
	}
	// A rule that changes a decision makes the shipped tests fail when run with it.
	strict := filepath.Join(dir, "strict.yaml")
	os.WriteFile(strict, []byte("version: strict-1\nrules:\n  - name: hold-all-orders\n    on: [order]\n    when: 'true'\n    action: hold\n    reason: {code: HOLD_ALL}\n"), 0o600)
	out, _, err = run(t, "rules", "test", "--rules", strict, "../ruletest/testdata/default.yaml")
	if err == nil || !strings.Contains(out, "FAIL") {
		t.Errorf("a rule holding every order passed the shipped tests: %v\n%s", err, out)
	}
}

func TestConfigErrorsStopTheRun(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("lateness: 3d\n"), 0o600)
	_, _, err := run(t, "replay", "--config", cfg, "--events", "../../testdata/sample.jsonl", "--no-store")
	if err == nil || !strings.Contains(err.Error(), "config") {
		t.Errorf("got %v, want a config error", err)
	}
}
