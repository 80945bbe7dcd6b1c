package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/brokerguard/brokerguard/internal/fault"
	"github.com/brokerguard/brokerguard/internal/ingest"
	"github.com/brokerguard/brokerguard/internal/store"
)

// TestPresent checks the one translation of the product's error kinds into HTTP answers: status, code,
// and a message that is the person's own only when it was written for them.
func TestPresent(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		status    int
		code, msg string
	}{
		{"shown invalid", fault.Errorf(fault.ErrInvalid, "reason: required"), http.StatusBadRequest, CodeBadRequest, "invalid request: reason: required"},
		{"shown not found", fault.Errorf(fault.ErrNotFound, "no incident %q", "x"), http.StatusNotFound, CodeNotFound, `not found: no incident "x"`},
		{"store not found hides the driver", fmt.Errorf("sqlite: decision: %w", store.ErrNotFound), http.StatusNotFound, CodeNotFound, "not found"},
		{"conflict", fault.Errorf(fault.ErrConflict, "already approved"), http.StatusConflict, CodeConflict, "conflict: already approved"},
		{"exists", fmt.Errorf("add key: %w", store.ErrExists), http.StatusConflict, CodeConflict, "conflict"},
		{"forbidden", fault.Errorf(fault.ErrForbidden, "not yours"), http.StatusForbidden, CodeForbidden, "forbidden: not yours"},
		{"overloaded", fmt.Errorf("x: %w", ingest.ErrOverloaded), http.StatusTooManyRequests, CodeOverloaded, "too many events in flight: nothing of this request was taken; retry it after the time in Retry-After"},
		{"store closed", fmt.Errorf("sqlite: %w", store.ErrClosed), http.StatusServiceUnavailable, CodeUnavailable, "temporarily unavailable; retry the request"},
		{"stopping", ingest.ErrStopped, http.StatusServiceUnavailable, CodeUnavailable, "temporarily unavailable; retry the request"},
		{"anything else", errors.New("secret driver text"), http.StatusInternalServerError, CodeInternal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ae := present(tt.err)
			if ae.status != tt.status || ae.code != tt.code || ae.message != tt.msg {
				t.Errorf("present = %d %s %q, want %d %s %q", ae.status, ae.code, ae.message, tt.status, tt.code, tt.msg)
			}
		})
	}
}
