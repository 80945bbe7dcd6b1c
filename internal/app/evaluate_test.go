package app

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brokerguard/brokerguard/internal/evaluate"
)

// The hand-made truth, decisions and alerts of internal/evaluate.
func evaluateFixture(name string) string { return filepath.Join("..", "evaluate", "testdata", name) }

func TestEvaluateCommand(t *testing.T) {
	truth, decisions, alerts := evaluateFixture("truth.json"), evaluateFixture("decisions.jsonl"), evaluateFixture("alerts.jsonl")
	out, errOut, err := run(t, "evaluate", "--truth", truth, "--decisions", decisions, "--alerts", alerts)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !strings.Contains(out, "2 of 4 (50.0%)") || strings.HasPrefix(strings.TrimSpace(out), "{") {
		t.Errorf("table: got %q, want the text table", out)
	}
	// --json is a flag: only the JSON, nothing before or after it.
	for _, flag := range []string{"--json", "--json=true"} {
		out, errOut, err = run(t, "evaluate", "--truth", truth, "--decisions", decisions, "--alerts", alerts, flag)
		if err != nil {
			t.Fatalf("%s: %v\n%s", flag, err, errOut)
		}
		var rep evaluate.Report
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rep); err != nil || rep.Takeovers.Takeovers != 4 || rep.Takeovers.Stopped != 2 || dec.More() {
			t.Errorf("%s: got %v, %+v from %q, want only the JSON report", flag, err, rep.Takeovers, out)
		}
	}
	// The old form, with a file name after --json, is refused rather than read as an argument.
	_, errOut, err = run(t, "evaluate", "--truth", truth, "--decisions", decisions, "--alerts", alerts, "--json", "report.json")
	if !errors.Is(err, ErrUsage) || !strings.Contains(errOut, `unexpected argument "report.json"`) {
		t.Errorf("--json FILE: got %v %q, want a usage error naming the argument", err, errOut)
	}
	if _, err := os.Stat("report.json"); err == nil {
		t.Error("report.json was written")
	}
}

func TestEvaluateWrongFiles(t *testing.T) {
	dir := t.TempDir()
	p := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	truth, decisions, alerts := evaluateFixture("truth.json"), evaluateFixture("decisions.jsonl"), evaluateFixture("alerts.jsonl")
	empty := p("empty.json", "")
	random := p("random.json", `{"colour":"blue","size":3}`+"\n")
	for _, tc := range []struct {
		name                     string
		truth, decisions, alerts string
		want                     []string
	}{
		{"decisions as truth", decisions, decisions, alerts, []string{"truth file " + decisions + ": ", "looks like a decisions file", "brokerguard simulate --truth"}},
		{"empty truth", empty, decisions, alerts, []string{"truth file " + empty + ": the file is empty"}},
		{"random JSON as truth", random, decisions, alerts, []string{"truth file " + random + ": not a ground truth"}},
		{"alerts as decisions", truth, alerts, alerts, []string{"decisions file " + alerts + ", line 1: ", "not a decision", "looks like an alerts file"}},
		{"truth as decisions", truth, truth, alerts, []string{"decisions file " + truth + ", line 1: not a JSON object"}},
		{"empty decisions", truth, empty, alerts, []string{"decisions file " + empty + ": no decisions"}},
		{"decisions as alerts", truth, decisions, decisions, []string{"alerts file " + decisions + ", line 1: ", "not an alert", "looks like a decisions file"}},
		{"random JSON as alerts", truth, decisions, random, []string{"alerts file " + random + ", line 1: ", "not an alert"}},
		{"missing truth", filepath.Join(dir, "none.json"), decisions, alerts, []string{"truth: open " + filepath.Join(dir, "none.json")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, flags := range [][]string{nil, {"--json"}} {
				args := append([]string{"evaluate", "--truth", tc.truth, "--decisions", tc.decisions, "--alerts", tc.alerts}, flags...)
				out, _, err := run(t, args...)
				if err == nil || ExitCode(err) != 1 {
					t.Fatalf("%v: got %v (exit %d), want a failure with exit status 1", flags, err, ExitCode(err))
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%v: got %q, want it to contain %q", flags, err, w)
					}
				}
				if out != "" {
					t.Errorf("%v: printed %q, want nothing on standard output", flags, out)
				}
			}
		})
	}
}
