package ruletest

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds rule-test files to Load: an error or a file of tests, never a panic.
func FuzzLoad(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "default.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("tests:\n  - name: t\n    events: []\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "t.yaml")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		file, err := Load(path)
		if err == nil && file == nil {
			t.Fatal("no file and no error")
		}
	})
}
