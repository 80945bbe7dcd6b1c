package sim

import (
	"bytes"
	"testing"
)

// FuzzParseScenario feeds scenario files to ParseScenario: an error or a scenario, never a panic.
func FuzzParseScenario(f *testing.F) {
	for _, name := range BuiltinScenarios() {
		b, err := builtinFS.ReadFile("scenarios/" + name + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("name: x\nstart: \"2025-04-09\"\ntrading_days: 1\naccounts: 10\nvary: true\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := ParseScenario(b, "fuzz.yaml")
		if err == nil && sc == nil {
			t.Fatal("no scenario and no error")
		}
	})
}

// FuzzReadTruth feeds documents to ReadTruth: an error or a truth, never a panic.
func FuzzReadTruth(f *testing.F) {
	f.Add([]byte(`{"version":1,"scenario":"s","takeovers":[]}`))
	f.Add([]byte(`{"version":1,"scenario":"s","takeovers":[{"account":"A","kind":"phishing_relay","events":[{"id":"e1","type":"login"}]}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := ReadTruth(bytes.NewReader(b))
		if err == nil && tr == nil {
			t.Fatal("no truth and no error")
		}
	})
}
