package rules

import (
	"testing"
)

// FuzzParse feeds rule files to Parse: it must return a set or an error, never panic, and a set it
// returns must be usable.
func FuzzParse(f *testing.F) {
	f.Add(DefaultSource())
	f.Add([]byte("version: v1\nrules:\n  - name: r\n    on: [order]\n    when: event.side == \"buy\"\n    action: hold\n    reason: {code: R_1, detail: d}\n"))
	f.Add([]byte("version: v1\nrules: []\n"))
	f.Add([]byte("version: v1\nrules:\n  - name: r\n    on: [login]\n    when: 'signals.exists(s, s == \"NEW_DEVICE\")'\n    score: 10\n    reason: {code: R_2, detail: '\"x\" + event.id'}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b, "fuzz.yaml")
		if err != nil {
			if s != nil {
				t.Fatalf("Parse returned a set and an error: %v", err)
			}
			return
		}
		if s.Version == "" {
			t.Fatal("a set without a version was accepted")
		}
		_ = s.Stats()
	})
}
