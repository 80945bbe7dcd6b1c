package httpapi

import (
	"net/http"

	"github.com/brokerguard/brokerguard/internal/desk"
)

// getHeld answers an account's held orders and withdrawals with their state, newest first.
func (s *Server) getHeld(w http.ResponseWriter, r *http.Request) error {
	d, err := s.desk()
	if err != nil {
		return err
	}
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	account := r.PathValue("account")
	items, err := d.Held(r.Context(), account, limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"account": account, "held": items})
	return nil
}

// heldRequest is the body of a release or a cancel: why, and the customer's step-up result when the
// firm's app has one.
type heldRequest struct {
	Reason string       `json:"reason"`
	StepUp *desk.StepUp `json:"step_up"`
}

func (s *Server) postHeldRelease(w http.ResponseWriter, r *http.Request) error {
	return deskPost(s, w, r, http.StatusOK, "", s.desk, func(d *desk.Desk, req heldRequest) (desk.HeldItem, error) {
		return d.Release(r.Context(), actor(r), r.PathValue("id"), req.Reason, req.StepUp)
	})
}

func (s *Server) postHeldCancel(w http.ResponseWriter, r *http.Request) error {
	return deskPost(s, w, r, http.StatusOK, "", s.desk, func(d *desk.Desk, req heldRequest) (desk.HeldItem, error) {
		return d.Cancel(r.Context(), actor(r), r.PathValue("id"), req.Reason, req.StepUp)
	})
}
