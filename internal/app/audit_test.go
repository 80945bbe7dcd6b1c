package app

import (
	"database/sql"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAuditVerify issues and revokes keys (audited actions), verifies the trail, then edits an entry in
// the SQLite file behind the store's back: verify names that entry and fails.
func TestAuditVerify(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	for _, args := range [][]string{
		{"key", "add", "--role", "analyst", "--name", "sato"},
		{"key", "add", "--role", "read", "--name", "dash"},
		{"key", "revoke", "dash"},
	} {
		if _, errOut, err := run(t, append(args, "--data-dir", data)...); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errOut)
		}
	}
	out, errOut, err := run(t, "audit", "verify", "--data-dir", data)
	if err != nil {
		t.Fatalf("audit verify: %v\n%s", err, errOut)
	}
	m := regexp.MustCompile(`(?m)^audit trail of .*: 3 entries, intact\nhead: ([0-9a-f]{64})$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("audit verify printed %q, want 3 entries intact and the head", out)
	}
	head := m[1]
	if out, _, err := run(t, "audit", "list", "--data-dir", data); err != nil || !strings.Contains(out, "key.revoke") || !strings.Contains(out, head[:12]) {
		t.Fatalf("audit list: %v\n%s", err, out)
	}
	if _, _, err := run(t, "audit", "verify", "--head", "nothex", "--data-dir", data); err == nil || !strings.Contains(err.Error(), "--head") {
		t.Fatalf("a bad --head: got %v", err)
	}

	db, err := sql.Open("sqlite", filepath.Join(data, "brokerguard.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE audit SET actor = 'someone else' WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	_, _, err = run(t, "audit", "verify", "--data-dir", data)
	if !errors.Is(err, ErrAuditBroken) || !strings.Contains(err.Error(), "entry 2 does not match its hash") {
		t.Fatalf("audit verify after an edit: got %v, want entry 2 named as changed", err)
	}
	if code := ExitCode(err); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	// The last entry removed: the trail still holds, but not up to the head kept before.
	if _, err := db.Exec("UPDATE audit SET actor = 'command-line' WHERE seq = 2; DELETE FROM audit WHERE seq = 3"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "audit", "verify", "--data-dir", data); err != nil {
		t.Fatalf("audit verify without --head after removing the last entry: %v", err)
	}
	if _, _, err := run(t, "audit", "verify", "--head", head, "--data-dir", data); !errors.Is(err, ErrAuditBroken) || !strings.Contains(err.Error(), "removed from the end") {
		t.Fatalf("audit verify --head after removing the last entry: got %v", err)
	}
}
