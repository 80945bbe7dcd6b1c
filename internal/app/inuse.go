package app

import (
	"errors"
	"fmt"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

// inUseError is a refusal to open a SQLite database that another process holds, worded for the
// person who ran the command. It wraps the store's *sqlite.InUseError.
type inUseError struct {
	msg string
	err *sqlite.InUseError
}

func (e *inUseError) Error() string { return e.msg }
func (e *inUseError) Unwrap() error { return e.err }

// storeInUse rewords err when it says that the database at path is held by another process: which
// data directory (or database file), who holds it and since when, and what to do:
//
//	data directory brokerguard-data in use by pid 4242 (brokerguard serve, since 2025-04-10T09:00:00+09:00); stop it or use another --data-dir
//
// Other errors are returned as they are.
func storeInUse(err error, cfg config.Config, path string) error {
	var ie *sqlite.InUseError
	if !errors.As(err, &ie) {
		return err
	}
	if cfg.DB == "" {
		return &inUseError{fmt.Sprintf("data directory %s %s; stop it or use another --data-dir", cfg.DataDir, ie.Holder()), ie}
	}
	return &inUseError{fmt.Sprintf("database %s %s; stop it or use another --db", path, ie.Holder()), ie}
}
