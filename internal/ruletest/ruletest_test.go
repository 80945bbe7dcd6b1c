package ruletest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/brokerguard/brokerguard/internal/ipintel"
)

// ipdata returns the shared IP data folder next to the repository, or "" when it is absent.
func ipdata(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("BROKERGUARD_IPDATA"); d != "" {
		return d
	}
	d, _ := filepath.Abs("../../../shared/ipdata")
	if _, err := os.Stat(filepath.Join(d, "asn-ipv4.mmdb")); err != nil {
		return ""
	}
	return d
}

// TestDefaultPack runs the timelines of the shipped rules and model.
func TestDefaultPack(t *testing.T) {
	f, err := Load("testdata/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var o Options
	if dir := ipdata(t); dir != "" {
		db, err := ipintel.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		o.IP, o.HasIP = db, true
	} else if os.Getenv("CI") != "" {
		t.Fatal("shared/ipdata not found beside the repository; CI needs it for the IP intelligence tests")
	}
	results, err := Run(f, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		t.Run(r.Name, func(t *testing.T) {
			if r.Skipped != "" {
				t.Skip(r.Skipped)
			}
			for _, msg := range r.Failures {
				t.Error(msg)
			}
		})
	}
}
