package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brokerguard/brokerguard/internal/console"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

func runStdin(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Environ: []string{}})
	return out.String(), errb.String(), err
}

// TestUserCommands adds, lists, changes and disables console users with the commands, in a real SQLite
// store, and checks what the store keeps and what the audit trail says.
func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if _, errOut, err := runStdin(t, "correct horse battery\n", "user", "add", "--name", "ito", "--role", "analyst", "--data-dir", data); err != nil {
		t.Fatalf("user add: %v\n%s", err, errOut)
	}
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("supervisor's passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := run(t, "user", "add", "--name", "sato", "--role", "supervisor", "--password-file", pwFile, "--data-dir", data); err != nil {
		t.Fatalf("user add --password-file: %v\n%s", err, errOut)
	}
	errs := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"duplicate", "another long password", []string{"add", "--name", "ito", "--role", "analyst"}, `a user named "ito" exists already`},
		{"read role", "another long password", []string{"add", "--name", "bot", "--role", "read"}, `--role "read": want one of analyst, supervisor, admin`},
		{"short password", "short", []string{"add", "--name", "kato", "--role", "analyst"}, "password: 5 characters; want at least 12"},
		{"no password", "", []string{"add", "--name", "kato", "--role", "analyst"}, "no password: give --password-file FILE or the password on standard input"},
		{"missing file", "", []string{"add", "--name", "kato", "--role", "analyst", "--password-file", filepath.Join(dir, "none")}, "--password-file:"},
		{"name with space", "another long password", []string{"add", "--name", "a b", "--role", "analyst"}, "no spaces"},
		{"passwd unknown", "another long password", []string{"passwd", "nobody"}, `no user named "nobody"`},
		{"disable unknown", "", []string{"disable", "nobody"}, `no user named "nobody"`},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runStdin(t, tc.stdin, append(append([]string{"user"}, tc.args...), "--data-dir", data)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, _, err := runStdin(t, "a brand new password\n", "user", "passwd", "ito", "--data-dir", data); err != nil {
		t.Fatalf("user passwd: %v", err)
	}
	if _, _, err := run(t, "user", "disable", "sato", "--data-dir", data); err != nil {
		t.Fatalf("user disable: %v", err)
	}
	out, _, err := run(t, "user", "list", "--data-dir", data)
	if err != nil || !strings.Contains(out, "ito") || !regexpLine(out, "sato", "disabled") {
		t.Errorf("user list: got %q, %v", out, err)
	}

	st, err := sqlite.Open(t.Context(), filepath.Join(data, "brokerguard.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.User(t.Context(), "ito")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(u.Password, "password") || !strings.HasPrefix(u.Password, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Errorf("stored password %q, want an encoded argon2id hash", u.Password)
	}
	if ok, err := console.CheckPassword(u.Password, "a brand new password"); !ok || err != nil {
		t.Errorf("the new password does not check: %v, %v", ok, err)
	}
	if ok, _ := console.CheckPassword(u.Password, "correct horse battery"); ok {
		t.Error("the old password still checks after passwd")
	}
	recs, err := st.Audit(t.Context(), store.AuditQuery{Action: "user."})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Action+" "+r.Target)
	}
	if want := "user.add user:ito,user.add user:sato,user.passwd user:ito,user.disable user:sato"; strings.Join(got, ",") != want {
		t.Errorf("audit trail: got %v, want %s", got, want)
	}
}

func regexpLine(out, name, state string) bool {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == name && f[2] == state {
			return true
		}
	}
	return false
}

// TestUserAddNoPassword adds a user who signs in only through the identity provider.
func TestUserAddNoPassword(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if _, errOut, err := run(t, "user", "add", "--name", "kato", "--role", "analyst", "--no-password", "--data-dir", data); err != nil {
		t.Fatalf("user add --no-password: %v\n%s", err, errOut)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(data, "brokerguard.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if u, err := st.User(t.Context(), "kato"); err != nil || u.Password != console.NoPassword {
		t.Errorf("user kato: %+v, %v; want no password", u, err)
	}
}
