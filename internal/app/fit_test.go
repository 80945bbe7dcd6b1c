package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brokerguard/brokerguard/internal/detect"
)

func TestFitCommandWritesAModelThatLoads(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates a small firm")
	}
	out := filepath.Join(t.TempDir(), "fitted.yaml")
	_, errOut, err := run(t, "fit", "--scenario", "small", "--seeds", "1", "--accounts", "400", "--iterations", "50", "--out", out)
	if err != nil {
		t.Fatalf("fit: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "an attacker's") || !strings.Contains(errOut, "model written to "+out) {
		t.Errorf("fit said %q; want the examples counted and the file named", errOut)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "brokerguard fit --scenario small --seeds 1") {
		t.Errorf("the model file does not name the command that produced it:\n%.300s", b)
	}
	m, err := detect.LoadModel(out)
	if err != nil {
		t.Fatalf("the fitted model does not load: %v", err)
	}
	prior := detect.DefaultModel()
	if m.Version != prior.Version+"+fit" || len(m.Interactions) != len(prior.Interactions) {
		t.Errorf("fitted model %s with %d interactions; want %s+fit with %d", m.Version, len(m.Interactions), prior.Version, len(prior.Interactions))
	}
	for s := detect.Signal(0); s < detect.NumSignals; s++ {
		if m.Weight(s) < 0 {
			t.Errorf("%s: weight %v below zero", s, m.Weight(s))
		}
	}
	// The engine runs on it.
	if _, errOut, err := run(t, "sweep", "--scenario", "small", "--seeds", "1", "--accounts", "400", "--model", out); err != nil {
		t.Fatalf("sweep --model: %v\n%s", err, errOut)
	}
	if _, _, err := run(t, "fit", "--scenario", "small"); err == nil {
		t.Error("fit without --out: want a usage error")
	}
}

// TestShippedFittedModelLoads checks the fitted model the README offers: it loads, keeps the shipped
// model's signals and interactions, and adds risk only.
func TestShippedFittedModelLoads(t *testing.T) {
	m, err := detect.LoadModel("../../models/varied-2026-12.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prior := detect.DefaultModel()
	if len(m.Interactions) != len(prior.Interactions) {
		t.Errorf("%d interactions; want the shipped model's %d", len(m.Interactions), len(prior.Interactions))
	}
	for s := detect.Signal(0); s < detect.NumSignals; s++ {
		if m.Weight(s) < 0 || (m.Weight(s) != 0) != (prior.Weight(s) != 0) && m.Weight(s) != 0 {
			t.Errorf("%s: weight %v (shipped %v)", s, m.Weight(s), prior.Weight(s))
		}
	}
}
