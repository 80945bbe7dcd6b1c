//go:build unix

package sqlite

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/store"
)

// TestSecondOpenIsRefused: while a Store holds a database, a second Open of the same file (here in the
// same process, through a file of its own) fails at once with an *InUseError naming the holder; once
// the first is closed the file opens again.
func TestSecondOpenIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "brokerguard.db")
	first, err := Open(t.Context(), path, Options{Holder: "brokerguard serve"})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path + ".lock")
	if err != nil {
		t.Fatalf("lock file: %v", err)
	}
	if got := fi.Mode(); got != 0o600 {
		t.Errorf("mode of the lock file: got %v, want %v", got, os.FileMode(0o600))
	}

	for _, p := range []string{path, filepath.Join(filepath.Dir(path), ".", "brokerguard.db")} {
		s, err := Open(t.Context(), p, Options{})
		if err == nil {
			s.Close()
			t.Fatalf("second Open of %s: got nil error, want one", p)
		}
		var ie *InUseError
		if !errors.As(err, &ie) || !errors.Is(err, ErrInUse) {
			t.Fatalf("second Open: got %v, want an *InUseError", err)
		}
		if ie.PID != os.Getpid() || ie.Command != "brokerguard serve" || ie.Since.IsZero() {
			t.Errorf("holder: got pid %d, command %q, since %v; want pid %d, command %q, a time",
				ie.PID, ie.Command, ie.Since, os.Getpid(), "brokerguard serve")
		}
		want := fmt.Sprintf("in use by pid %d (brokerguard serve, since %s)", os.Getpid(), ie.Since.Format(time.RFC3339))
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message: got %q, want it to contain %q", err, want)
		}
	}
	// The refused Open wrote nothing: the holder still works.
	if err := first.Ping(t.Context()); err != nil {
		t.Errorf("Ping of the holder after a refused Open: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open after Close: got %v, want nil", err)
	}
	second.Close()
}

// TestLockDiesWithProcess: a process holding the database that is killed with SIGKILL leaves no lock
// behind; while it runs, another process is refused with its pid.
func TestLockDiesWithProcess(t *testing.T) {
	const childEnv = "BROKERGUARD_SQLITE_LOCK_CHILD"
	if path := os.Getenv(childEnv); path != "" {
		s, err := Open(t.Context(), path, Options{Holder: "brokerguard replay"})
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(1)
		}
		_ = s
		fmt.Println("open")
		select {} // wait for the kill
	}

	path := filepath.Join(t.TempDir(), "brokerguard.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockDiesWithProcess$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "open\n" {
		t.Fatalf("child: got %q, want %q", line, "open\n")
	}
	_, err = Open(t.Context(), path, Options{})
	var ie *InUseError
	if !errors.As(err, &ie) || ie.PID != cmd.Process.Pid || ie.Command != "brokerguard replay" {
		t.Fatalf("Open while the child holds it: got %v, want in use by pid %d (brokerguard replay)", err, cmd.Process.Pid)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatalf("Open after the holder was killed: got %v, want nil", err)
	}
	s.Close()
}

func TestInUseMessage(t *testing.T) {
	since := time.Date(2025, 4, 10, 9, 0, 0, 0, time.FixedZone("", 9*3600))
	cases := []struct {
		content string
		want    string
	}{
		{"pid=4242\ncommand=brokerguard serve\n", "in use by pid 4242 (brokerguard serve, since 2025-04-10T09:00:00+09:00)"},
		{"pid=4242\n", "in use by pid 4242 (since 2025-04-10T09:00:00+09:00)"},
		// Locked but not yet written, or written by something else.
		{"", "in use by another process"},
		{"garbage", "in use by another process"},
	}
	for _, c := range cases {
		if got := inUse("x.db", []byte(c.content), since).Holder(); got != c.want {
			t.Errorf("inUse(%q): got %q, want %q", c.content, got, c.want)
		}
	}
}

// TestGuestBesideHolder: a guest opens a database another Store holds, and what each writes the
// other reads; closing the guest leaves the holder working.
func TestGuestBesideHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "brokerguard.db")
	holder, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	guest, err := Open(t.Context(), path, Options{Guest: true})
	if err != nil {
		t.Fatalf("guest Open beside the holder: got %v, want nil", err)
	}
	k := store.APIKey{Name: "auditor", Role: "read", Hash: [32]byte{1}, Created: time.Unix(1742169600, 0)}
	if err := guest.AddKey(t.Context(), k); err != nil {
		t.Fatalf("guest AddKey: %v", err)
	}
	if got, err := holder.KeyByHash(t.Context(), k.Hash); err != nil || got.Name != k.Name {
		t.Errorf("holder KeyByHash: got %+v, %v; want %q", got, err, k.Name)
	}
	if err := holder.Append(t.Context(), &store.Batch{Events: []store.EventRecord{{ID: "e1", Type: "quote", Time: k.Created, Raw: []byte("{}")}}}); err != nil {
		t.Fatalf("holder Append: %v", err)
	}
	if c, err := guest.Counts(t.Context()); err != nil || c.Events != 1 {
		t.Errorf("guest Counts: got %d, %v; want 1", c.Events, err)
	}
	if err := guest.Close(); err != nil {
		t.Fatalf("guest Close: %v", err)
	}
	if err := holder.Append(t.Context(), &store.Batch{Events: []store.EventRecord{{ID: "e2", Type: "quote", Time: k.Created, Raw: []byte("{}")}}}); err != nil {
		t.Errorf("holder Append after the guest left: %v", err)
	}
	// The lock is the holder's still.
	if s, err := Open(t.Context(), path, Options{}); !errors.Is(err, ErrInUse) {
		if s != nil {
			s.Close()
		}
		t.Errorf("Open after the guest left: got %v, want %v", err, ErrInUse)
	}
}
