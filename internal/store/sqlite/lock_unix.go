//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/brokerguard/brokerguard/internal/store"
)

// fileLock is an exclusive advisory lock (flock) on the database's lock file, held for the life of a
// Store. The operating system releases it when the process ends, however it ends: a killed process
// leaves no stale lock behind. The lock belongs to the open file, so a second Store of the same
// database in the same process is refused as well.
type fileLock struct {
	f *os.File
}

// lock takes the lock of the database at path, or returns an *InUseError naming its holder.
func lock(path, holder string) (*fileLock, error) {
	lp := lockPath(path)
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w: lock file: %v", store.ErrUnavailable, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			content, _ := io.ReadAll(io.LimitReader(f, 4096))
			var modified time.Time
			if fi, err := f.Stat(); err == nil {
				modified = fi.ModTime()
			}
			return nil, inUse(path, content, modified)
		}
		return nil, fmt.Errorf("sqlite: open: %w: lock %s: %v", store.ErrUnavailable, lp, err)
	}
	content := lockContent(os.Getpid(), holder)
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(content, 0)
	}
	if err != nil {
		f.Close() // releases the lock
		return nil, fmt.Errorf("sqlite: open: %w: lock file %s: %v", store.ErrUnavailable, lp, err)
	}
	return &fileLock{f: f}, nil
}

// unlock empties the lock file, so that it names no one, and releases the lock. The file stays: a
// lock file removed while another process waits to open it would let two processes hold a lock each.
func (l *fileLock) unlock() error {
	if l == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	return l.f.Close()
}
