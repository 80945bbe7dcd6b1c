//go:build !unix

package sqlite

// fileLock does nothing where flock is not available: there a second process on the same database is
// not refused at Open, and meets SQLite's own locks instead.
type fileLock struct{}

func lock(path, holder string) (*fileLock, error) { return &fileLock{}, nil }

func (l *fileLock) unlock() error { return nil }
