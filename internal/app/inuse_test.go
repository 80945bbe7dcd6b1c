package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

// TestDataDirInUse: while a store holds the data directory, the commands that open it refuse at once,
// saying which directory, who holds it and what to do, and leave the holder's data as it was.
func TestDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := config.Default()
	cfg.DataDir = data
	held, _, err := openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	pid := fmt.Sprint(os.Getpid())
	inDir := regexp.QuoteMeta("data directory "+data+" in use by pid "+pid+" (") + `[^,]+, since [0-9T:+Z-]+\); stop it or use another --data-dir$`
	inFile := regexp.QuoteMeta("database "+filepath.Join(data, "brokerguard.db")+" in use by pid "+pid+" (") + `[^,]+, since [0-9T:+Z-]+\); stop it or use another --db$`
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"replay", []string{"replay", "--events", "../../testdata/sample.jsonl", "--decisions", filepath.Join(dir, "d.jsonl"),
			"--alerts", filepath.Join(dir, "a.jsonl"), "--data-dir", data}, inDir},
		{"key list", []string{"key", "list", "--data-dir", data}, inDir},
		{"key add", []string{"key", "add", "--role", "read", "--name", "k", "--data-dir", data}, inDir},
		{"key list --db", []string{"key", "list", "--db", filepath.Join(data, "brokerguard.db")}, inFile},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := run(t, c.args...)
			if err == nil {
				t.Fatal("got nil error, want the data directory in use")
			}
			if !regexp.MustCompile(c.want).MatchString(err.Error()) {
				t.Errorf("got %q, want it to match %q", err, c.want)
			}
			if !errors.Is(err, sqlite.ErrInUse) {
				t.Errorf("got %v, want an error wrapping %v", err, sqlite.ErrInUse)
			}
		})
	}
	if c, err := held.Counts(context.Background()); err != nil || c.Events != 0 {
		t.Errorf("the holder's store after the refusals: got %d events, %v; want 0", c.Events, err)
	}
}
