package fault

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorf(t *testing.T) {
	cause := errors.New("disk on fire")
	err := Errorf(ErrConflict, "filing %q: %w", "2025-04", cause)
	if got, want := err.Error(), `conflict: filing "2025-04": disk on fire`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, ErrConflict) || !errors.Is(err, cause) {
		t.Errorf("errors.Is: conflict %v, cause %v; want both", errors.Is(err, ErrConflict), errors.Is(err, cause))
	}
	if errors.Is(err, ErrNotFound) {
		t.Error("errors.Is(err, ErrNotFound) = true, want false")
	}
	if !Shown(fmt.Errorf("outer: %w", err)) {
		t.Error("Shown of a wrapped Errorf = false, want true")
	}
}

func TestKind(t *testing.T) {
	closed := Kind(ErrUnavailable, "store closed")
	err := fmt.Errorf("sqlite: append: %w", closed)
	if got, want := err.Error(), "sqlite: append: store closed"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, closed) || !errors.Is(err, ErrUnavailable) {
		t.Error("errors.Is: want both the sentinel and its kind")
	}
	if Shown(err) {
		t.Error("Shown of a sentinel = true, want false: its words are the package's, not the person's")
	}
}
