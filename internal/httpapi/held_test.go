package httpapi

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/desk"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/store"
)

// storeHeld stores the engine's holds of a sell and a withdrawal of account HLD.
func storeHeld(t *testing.T, f *fixture) {
	t.Helper()
	t0 := mustTime("2025-04-10T09:11:00+09:00")
	b := &store.Batch{Decisions: []event.Decision{
		{ID: "h-sell", Account: "HLD", Type: "order", Action: event.ActionHold, Score: 700, Time: t0},
		{ID: "h-wd", Account: "HLD", Type: "withdrawal", Action: event.ActionHold, Score: 600, Time: t0.Add(time.Minute)},
	}}
	if err := f.st.Append(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func heldStates(t *testing.T, base, key string) map[string]desk.HeldItem {
	t.Helper()
	a := call(t, base, "GET", "/v1/accounts/HLD/held", key, "", "")
	if a.status != 200 {
		t.Fatalf("held: %d %s", a.status, a.body)
	}
	var out struct {
		Held []desk.HeldItem `json:"held"`
	}
	if err := json.Unmarshal([]byte(a.body), &out); err != nil {
		t.Fatal(err)
	}
	m := map[string]desk.HeldItem{}
	for _, it := range out.Held {
		m[it.EventID] = it
	}
	return m
}

func TestHeldSellReleasedByTheFirmsAppWithAStepUp(t *testing.T) {
	f := newFixture(t)
	storeHeld(t, f)
	if m := heldStates(t, f.url, ingestKey); len(m) != 2 || m["h-sell"].State != desk.HeldWaiting {
		t.Fatalf("held items: %+v", m)
	}
	failed := `{"reason":"customer step-up","step_up":{"method":"passkey","passed":false,"at":"2025-04-10T09:13:00+09:00"}}`
	if a := call(t, f.url, "POST", "/v1/held/h-sell/release", ingestKey, "", failed); a.status != 400 {
		t.Fatalf("a failed step-up: %d %s", a.status, a.body)
	}
	passed := `{"reason":"customer step-up","step_up":{"method":"passkey","passed":true,"at":"2025-04-10T09:13:00+09:00"}}`
	a := call(t, f.url, "POST", "/v1/held/h-sell/release", ingestKey, "", passed)
	var it desk.HeldItem
	if err := json.Unmarshal([]byte(a.body), &it); a.status != 200 || err != nil {
		t.Fatalf("release: %d %s", a.status, a.body)
	}
	if it.State != desk.HeldReleased || it.Resolution.Actor != "edge" || it.Resolution.StepUp == nil || it.Resolution.StepUp.Method != "passkey" {
		t.Fatalf("release answered %+v", it)
	}
	if a := call(t, f.url, "POST", "/v1/held/h-sell/release", ingestKey, "", passed); a.status != 200 {
		t.Fatalf("the same release again: %d %s", a.status, a.body)
	}
	if a := call(t, f.url, "POST", "/v1/held/h-sell/cancel", analystKey, "", `{"reason":"changed my mind"}`); a.status != 409 {
		t.Fatalf("cancel after release: %d %s", a.status, a.body)
	}
	if a := call(t, f.url, "POST", "/v1/held/h-wd/cancel", analystKey, "", `{"reason":"payee is a mule"}`); a.status != 200 {
		t.Fatalf("cancel: %d %s", a.status, a.body)
	}
	if a := call(t, f.url, "POST", "/v1/held/nope/release", ingestKey, "", `{"reason":"r"}`); a.status != 404 {
		t.Fatalf("an unknown event: %d %s", a.status, a.body)
	}
	a = call(t, f.url, "GET", "/v1/audit?action=held.", readKey, "", "")
	var recs struct {
		Records []store.AuditRecord `json:"records"`
	}
	if err := json.Unmarshal([]byte(a.body), &recs); err != nil || len(recs.Records) != 2 {
		t.Fatalf("audit of held items: %d %s", a.status, a.body)
	}

	// A restarted server rebuilds the states from the trail.
	restarted := f.serve(t, func(o *Options) {
		o.Desk = desk.New(desk.Options{Accounts: f.eng.Accounts(), Decisions: f.st, Trail: audit.New(audit.Options{Store: f.st, Wall: time.Now})})
		if n, err := o.Desk.Restore(context.Background()); err != nil || n < 2 {
			t.Fatalf("restore: %d, %v", n, err)
		}
	})
	m := heldStates(t, restarted, readKey)
	if m["h-sell"].State != desk.HeldReleased || m["h-wd"].State != desk.HeldCancelled || m["h-sell"].Resolution.StepUp == nil {
		t.Fatalf("after a restart: %+v", m)
	}
	if a := call(t, restarted, "POST", "/v1/held/h-sell/cancel", analystKey, "", `{"reason":"late"}`); a.status != 409 {
		t.Fatalf("cancel after a restored release: %d %s", a.status, a.body)
	}
}
