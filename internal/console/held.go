package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/desk"
	"github.com/brokerguard/brokerguard/internal/fault"
	"github.com/brokerguard/brokerguard/internal/store"
)

type heldPage struct {
	DataTime time.Time
	All      bool
	Done     string
	Items    []desk.HeldItem
}

// getHeld lists the held orders and withdrawals, newest first: those still waiting, or all of them.
func (c *Console) getHeld(w http.ResponseWriter, r *http.Request, s *session) error {
	if c.o.Held == nil {
		return fail(http.StatusNotFound, "held_off")
	}
	p := heldPage{DataTime: c.o.DataNow(), All: r.URL.Query().Get("all") == "1", Done: r.URL.Query().Get("done")}
	if p.Done != "" && p.Done != "held_released" && p.Done != "held_cancelled" {
		p.Done = ""
	}
	items, err := c.o.Held.HeldItems(r.Context(), store.DecisionQuery{Account: strings.TrimSpace(r.URL.Query().Get("account")), Limit: 500})
	if err != nil {
		return err
	}
	for _, it := range items {
		if p.All || it.State == desk.HeldWaiting {
			p.Items = append(p.Items, it)
		}
	}
	return c.render(w, r, s, http.StatusOK, "held", p)
}

func (c *Console) postHeldRelease(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.heldChange(w, r, "held_released", func(event, reason string) error {
		_, err := c.o.Held.Release(r.Context(), s.user.Name, event, reason, nil)
		return err
	})
}

func (c *Console) postHeldCancel(w http.ResponseWriter, r *http.Request, s *session) error {
	return c.heldChange(w, r, "held_cancelled", func(event, reason string) error {
		_, err := c.o.Held.Cancel(r.Context(), s.user.Name, event, reason, nil)
		return err
	})
}

// heldChange reads a release or cancel form, applies change and sends the browser back to the list.
func (c *Console) heldChange(w http.ResponseWriter, r *http.Request, done string, change func(event, reason string) error) error {
	if c.o.Held == nil {
		return fail(http.StatusNotFound, "held_off")
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" || len(reason) > 500 {
		return fail(http.StatusBadRequest, "need_reason")
	}
	err := change(r.PathValue("event"), reason)
	switch {
	case errors.Is(err, fault.ErrNotFound):
		return fail(http.StatusNotFound, "not_found")
	case errors.Is(err, fault.ErrConflict):
		return &httpError{status: http.StatusConflict, code: "held_conflict", detail: err.Error()}
	case errors.Is(err, fault.ErrInvalid):
		return &httpError{status: http.StatusBadRequest, code: "held_invalid", detail: err.Error()}
	case err != nil:
		return err
	}
	http.Redirect(w, r, "/held?all=1&done="+url.QueryEscape(done), http.StatusSeeOther)
	return nil
}
