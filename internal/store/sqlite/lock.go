package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrInUse means the database is open in another process (or in another Store of this one). The error
// is an *InUseError naming the holder.
var ErrInUse = errors.New("in use")

// InUseError says who holds the database, as its lock file tells it.
type InUseError struct {
	Path    string    // the database file
	PID     int       // 0 when the lock file does not say
	Command string    // "" when the lock file does not say
	Since   time.Time // when the holder opened the database; zero when unknown
}

func (e *InUseError) Error() string {
	return fmt.Sprintf("sqlite: open %s: %s", e.Path, e.Holder())
}

// Holder describes the holder in words: "in use by pid 4242 (brokerguard serve, since 2025-04-10T09:00:00+09:00)".
func (e *InUseError) Holder() string {
	if e.PID == 0 {
		return "in use by another process"
	}
	var about []string
	if e.Command != "" {
		about = append(about, e.Command)
	}
	if !e.Since.IsZero() {
		about = append(about, "since "+e.Since.Format(time.RFC3339))
	}
	s := "in use by pid " + strconv.Itoa(e.PID)
	if len(about) > 0 {
		s += " (" + strings.Join(about, ", ") + ")"
	}
	return s
}

func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// lockPath is the lock file of the database at path: brokerguard.db.lock beside brokerguard.db.
func lockPath(path string) string { return path + ".lock" }

// defaultHolder is what a lock file says by default: the program and its command, "brokerguard serve".
func defaultHolder() string {
	if len(os.Args) == 0 {
		return ""
	}
	h := filepath.Base(os.Args[0])
	if len(os.Args) > 1 && os.Args[1] != "" && !strings.HasPrefix(os.Args[1], "-") {
		h += " " + os.Args[1]
	}
	return h
}

// lockContent is what a holder writes into the lock file.
func lockContent(pid int, holder string) []byte {
	// One line each; a newline in the holder would start a field of its own.
	holder = strings.NewReplacer("\n", " ", "\r", " ").Replace(holder)
	return fmt.Appendf(nil, "pid=%d\ncommand=%s\n", pid, holder)
}

// inUse reads the holder from the content of a lock file held by someone else; modified is the
// file's modification time, which is when the holder wrote it.
func inUse(path string, content []byte, modified time.Time) *InUseError {
	e := &InUseError{Path: path}
	for line := range strings.Lines(string(content)) {
		k, v, _ := strings.Cut(strings.TrimRight(line, "\r\n"), "=")
		switch k {
		case "pid":
			e.PID, _ = strconv.Atoi(v)
		case "command":
			e.Command = v
		}
	}
	if e.PID != 0 {
		e.Since = modified
	}
	return e
}
