package fix

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
)

// Seqs are a session's sequence numbers: the next one expected from the firm's engine and the next one
// brokerguard sends.
type Seqs struct {
	In  int `json:"next_in"`
	Out int `json:"next_out"`
}

// SeqStore keeps sequence numbers across connections and restarts.
type SeqStore interface {
	Load(session string) (Seqs, error)
	Save(session string, s Seqs) error
}

// FileSeqs keeps each session's sequence numbers in a small JSON file of Dir, replaced by rename at
// every change, so that a crash of the process leaves the last one written. A file lost to a power
// failure between writes leaves an older one: incoming messages after it are asked for again (and
// taken as duplicates by event id), outgoing numbers restart lower and the firm's engine logs the
// session out until it is reset.
type FileSeqs struct {
	Dir string
}

var sessionName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

func (f FileSeqs) path(session string) (string, error) {
	if !sessionName.MatchString(session) {
		return "", fmt.Errorf("fix: session name %q: want letters, digits, '.', '_' or '-'", session)
	}
	return filepath.Join(f.Dir, "fix-"+session+".seq.json"), nil
}

// Load returns the session's numbers, {1, 1} for a session never seen.
func (f FileSeqs) Load(session string) (Seqs, error) {
	p, err := f.path(session)
	if err != nil {
		return Seqs{}, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Seqs{In: 1, Out: 1}, nil
	}
	if err != nil {
		return Seqs{}, fmt.Errorf("fix: sequence numbers of %s: %w", session, err)
	}
	var s Seqs
	if err := json.Unmarshal(b, &s); err != nil || s.In < 1 || s.Out < 1 {
		return Seqs{}, fmt.Errorf("fix: sequence numbers of %s in %s are damaged (%q): remove the file to reset the session", session, p, b)
	}
	return s, nil
}

// Save replaces the session's numbers.
func (f FileSeqs) Save(session string, s Seqs) error {
	p, err := f.path(session)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return fmt.Errorf("fix: save sequence numbers: %w", err)
	}
	b, _ := json.Marshal(s)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("fix: save sequence numbers: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("fix: save sequence numbers: %w", err)
	}
	return nil
}
