// Package fault holds the product's one set of error kinds: not found, already exists, invalid,
// conflict, forbidden, overloaded and unavailable. Every package classifies its errors by wrapping one
// of these (with %w, with Errorf, or with a sentinel of its own made by Kind), and the edge that answers
// people (internal/httpapi's present) turns the kind into a status and a stable code in one place.
//
// An error made by Errorf is written for the person who asked and may be shown as it is; any other
// error of a kind is shown only as the kind's own words, so that driver and file-system text never
// leaks into an answer.
package fault

import (
	"errors"
	"fmt"
)

// The kinds.
var (
	ErrNotFound    = errors.New("not found")
	ErrExists      = errors.New("already exists")
	ErrInvalid     = errors.New("invalid request")
	ErrConflict    = errors.New("conflict")
	ErrForbidden   = errors.New("forbidden")
	ErrOverloaded  = errors.New("overloaded")
	ErrUnavailable = errors.New("unavailable")
)

// Error is an error of a kind whose message is written for the person who asked.
type Error struct {
	kind  error
	cause error // the inner error of a %w in the message, if any
	msg   string
}

// Errorf returns an error of kind whose message, "kind: message", may be shown as it is. A %w in
// format is kept: errors.Is sees both kind and the wrapped error.
func Errorf(kind error, format string, args ...any) error {
	inner := fmt.Errorf(format, args...)
	return &Error{kind: kind, cause: errors.Unwrap(inner), msg: kind.Error() + ": " + inner.Error()}
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the kind and the wrapped cause.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

// Shown reports whether err's message was written to be shown (it holds an Error).
func Shown(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// kindErr is a package's own sentinel of a kind, with its own words.
type kindErr struct {
	kind error
	msg  string
}

func (e *kindErr) Error() string { return e.msg }
func (e *kindErr) Unwrap() error { return e.kind }

// Kind returns a new sentinel error with message msg that is of kind (errors.Is(err, kind) holds), for
// a package that names a case of its own (store.ErrClosed is unavailable, ingest.ErrOverloaded is
// overloaded). Its message is not shown to people; the kind's words are.
func Kind(kind error, msg string) error { return &kindErr{kind: kind, msg: msg} }
