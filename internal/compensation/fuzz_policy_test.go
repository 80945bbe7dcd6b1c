package compensation

import (
	"os"
	"testing"
)

// FuzzParsePolicy feeds policy files to ParsePolicy: an error or a policy, never a panic.
func FuzzParsePolicy(f *testing.F) {
	for _, name := range []string{"firm.good.yaml", "minimal.good.yaml", "bad-values.bad.yaml", "unknown-key.bad.yaml"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePolicy(b, "fuzz.yaml")
		if err == nil && p == nil {
			t.Fatal("no policy and no error")
		}
	})
}
