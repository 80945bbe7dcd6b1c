package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds configuration files to Load and Validate: an error or a configuration, never a panic.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"full.good.yml", "minimal.good.yml", "bad-values.bad.yml", "unknown-key.bad.yml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "c.yml")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, nil)
		if err != nil {
			return
		}
		_ = c.Validate()
	})
}
