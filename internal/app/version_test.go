package app

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	out, _, err := run(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"brokerguard ", "module github.com/brokerguard/brokerguard", "built with " + runtime.Version()} {
		if !strings.Contains(out, want) {
			t.Errorf("version printed %q; want it to contain %q", out, want)
		}
	}
	alias, _, err := run(t, "--version")
	if err != nil || alias != out {
		t.Errorf("--version = %q, %v; want the version command's output", alias, err)
	}
	js, _, err := run(t, "version", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var v buildVersion
	if err := json.Unmarshal([]byte(js), &v); err != nil || v.Go != runtime.Version() || v.Module == "" || v.Version == "" {
		t.Errorf("version --json = %q (%v); want module, version and Go version", js, err)
	}
}

func TestProgressOffTerminalPrintsOnlySummaries(t *testing.T) {
	var b strings.Builder
	p := newProgress(&b)
	p.show("simulating", 0.5)
	p.count("replaying", 10, "events")
	p.read("replaying", 10, 100)
	p.done("simulated 3 events")
	if got := b.String(); got != "✓ simulated 3 events\n" {
		t.Errorf("progress to a non-terminal wrote %q; want only the summary", got)
	}
	b.Reset()
	p = &progress{w: &b, tty: true}
	p.show("simulating", 0.5)
	p.done("simulated 3 events")
	if got := b.String(); !strings.Contains(got, "simulating") || !strings.HasSuffix(got, "✓ simulated 3 events\n") {
		t.Errorf("progress to a terminal wrote %q; want a bar, then the summary", got)
	}
}
