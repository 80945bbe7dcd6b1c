package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

// TestDataDirInUse: while a store holds the data directory, the commands that would hold it too refuse
// at once, saying which directory, who holds it and what to do, and leave the holder's data as it was;
// the key commands work beside it.
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
		{"replay --db", []string{"replay", "--events", "../../testdata/sample.jsonl", "--decisions", filepath.Join(dir, "d.jsonl"),
			"--alerts", filepath.Join(dir, "a.jsonl"), "--db", filepath.Join(data, "brokerguard.db")}, inFile},
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

	// Keys are issued to and revoked from a running server's store: the key commands open it beside
	// the holder.
	if _, errOut, err := run(t, "key", "add", "--role", "read", "--name", "auditor", "--data-dir", data); err != nil {
		t.Fatalf("key add beside the holder: %v\n%s", err, errOut)
	}
	if out, errOut, err := run(t, "key", "list", "--data-dir", data); err != nil || !strings.Contains(out, "auditor") {
		t.Fatalf("key list beside the holder: got %q, %v\n%s; want the key auditor", out, err, errOut)
	}
	keys, err := held.Keys(context.Background())
	if err != nil || len(keys) != 1 || keys[0].Name != "auditor" {
		t.Errorf("the holder's keys: got %+v, %v; want auditor", keys, err)
	}
}
