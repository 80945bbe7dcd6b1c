package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/store"
)

var (
	jst = time.FixedZone("", 9*3600)
	ist = time.FixedZone("", 5*3600+1800)
	nyc = time.FixedZone("", -5*3600)
	// base is the start of the fixtures' trading day.
	base = time.Date(2025, 3, 17, 9, 0, 0, 0, jst)
)

// at returns base plus d, written with offset loc.
func at(d time.Duration, loc *time.Location) time.Time { return base.Add(d).In(loc) }

// parseTime reads an RFC 3339 time the way the event decoder does.
func parseTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

// ev returns an event whose raw JSON names its fields.
func ev(id, account, typ string, tm time.Time) store.EventRecord {
	raw := fmt.Appendf(nil, `{"id":%q,"type":%q,"time":%q`, id, typ, tm.Format(time.RFC3339Nano))
	if account != "" {
		raw = fmt.Appendf(raw, `,"account":%q`, account)
	}
	raw = append(raw, '}')
	return store.EventRecord{ID: id, Account: account, Type: typ, Time: tm, Raw: raw}
}

// dec returns the decision of event id.
func dec(id, account, typ string, a event.Action, score int, tm time.Time, reasons ...event.Reason) event.Decision {
	return event.Decision{ID: id, Account: account, Type: typ, Action: a, Score: score, Reasons: reasons, Time: tm}
}

func reason(code, detail string) event.Reason { return event.Reason{Code: code, Detail: detail} }

// sameTime reports whether got is the same instant as want and prints as the same RFC 3339 text.
func sameTime(got, want time.Time) bool {
	if got.IsZero() || want.IsZero() {
		return got.IsZero() == want.IsZero()
	}
	return got.Equal(want) && got.Format(time.RFC3339Nano) == want.Format(time.RFC3339Nano)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "zero time"
	}
	return t.Format(time.RFC3339Nano)
}

// Differences are reported field by field as "field: got …, want …"; "" means equal. Nil and empty
// slices are equal: the contract does not tell them apart.

func diffEvent(got, want store.EventRecord) string {
	switch {
	case got.ID != want.ID:
		return fmt.Sprintf("ID: got %q, want %q", got.ID, want.ID)
	case got.Account != want.Account:
		return fmt.Sprintf("event %s: Account: got %q, want %q", want.ID, got.Account, want.Account)
	case got.Type != want.Type:
		return fmt.Sprintf("event %s: Type: got %q, want %q", want.ID, got.Type, want.Type)
	case !sameTime(got.Time, want.Time):
		return fmt.Sprintf("event %s: Time: got %v, want %v", want.ID, fmtTime(got.Time), fmtTime(want.Time))
	case !bytes.Equal(got.Raw, want.Raw):
		return fmt.Sprintf("event %s: Raw: got %q, want %q", want.ID, got.Raw, want.Raw)
	}
	return ""
}

func diffDecision(got, want event.Decision) string {
	switch {
	case got.ID != want.ID:
		return fmt.Sprintf("ID: got %q, want %q", got.ID, want.ID)
	case got.Account != want.Account:
		return fmt.Sprintf("decision %s: Account: got %q, want %q", want.ID, got.Account, want.Account)
	case got.Type != want.Type:
		return fmt.Sprintf("decision %s: Type: got %q, want %q", want.ID, got.Type, want.Type)
	case got.Action != want.Action:
		return fmt.Sprintf("decision %s: Action: got %v, want %v", want.ID, got.Action, want.Action)
	case got.Score != want.Score:
		return fmt.Sprintf("decision %s: Score: got %v, want %v", want.ID, got.Score, want.Score)
	case !slices.Equal(got.Reasons, want.Reasons):
		return fmt.Sprintf("decision %s: Reasons: got %v, want %v", want.ID, got.Reasons, want.Reasons)
	case !sameTime(got.Time, want.Time):
		return fmt.Sprintf("decision %s: Time: got %v, want %v", want.ID, fmtTime(got.Time), fmtTime(want.Time))
	}
	return ""
}

func diffAlert(got, want event.Alert) string {
	switch {
	case got.ID != want.ID:
		return fmt.Sprintf("ID: got %q, want %q", got.ID, want.ID)
	case got.Kind != want.Kind:
		return fmt.Sprintf("alert %s: Kind: got %q, want %q", want.ID, got.Kind, want.Kind)
	case !sameTime(got.Time, want.Time):
		return fmt.Sprintf("alert %s: Time: got %v, want %v", want.ID, fmtTime(got.Time), fmtTime(want.Time))
	case got.Score != want.Score:
		return fmt.Sprintf("alert %s: Score: got %v, want %v", want.ID, got.Score, want.Score)
	case !slices.Equal(got.Symbols, want.Symbols):
		return fmt.Sprintf("alert %s: Symbols: got %q, want %q", want.ID, got.Symbols, want.Symbols)
	case !slices.Equal(got.Accounts, want.Accounts):
		return fmt.Sprintf("alert %s: Accounts: got %q, want %q", want.ID, got.Accounts, want.Accounts)
	case !slices.Equal(got.Reasons, want.Reasons):
		return fmt.Sprintf("alert %s: Reasons: got %v, want %v", want.ID, got.Reasons, want.Reasons)
	}
	return ""
}

// scanAll returns every event with Seq > after, checking that Seq increases.
func scanAll(t *testing.T, s store.Store, after int64) ([]int64, []store.EventRecord) {
	t.Helper()
	var (
		seqs []int64
		recs []store.EventRecord
	)
	err := s.ScanEvents(t.Context(), after, func(seq int64, rec store.EventRecord) error {
		if seq <= after || (len(seqs) > 0 && seq <= seqs[len(seqs)-1]) {
			return fmt.Errorf("event %s: seq %d after seq %d (cursor %d): want increasing", rec.ID, seq, lastOr(seqs, after), after)
		}
		seqs = append(seqs, seq)
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		t.Fatalf("ScanEvents(%d): %v", after, err)
	}
	return seqs, recs
}

func lastOr(s []int64, def int64) int64 {
	if len(s) == 0 {
		return def
	}
	return s[len(s)-1]
}

func eventIDs(recs []store.EventRecord) []string {
	out := make([]string, len(recs))
	for i := range recs {
		out[i] = recs[i].ID
	}
	return out
}

func decisionIDs(ds []store.StoredDecision) []string {
	out := make([]string, len(ds))
	for i := range ds {
		out[i] = ds[i].ID
	}
	return out
}

func alertIDs(as []store.StoredAlert) []string {
	out := make([]string, len(as))
	for i := range as {
		out[i] = as[i].ID
	}
	return out
}

func counts(t *testing.T, s store.Store) store.Counts {
	t.Helper()
	c, err := s.Counts(t.Context())
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	return c
}

func appendOK(t *testing.T, s store.Store, b *store.Batch) {
	t.Helper()
	if err := s.Append(t.Context(), b); err != nil {
		t.Fatalf("Append(%d records): %v", b.Len(), err)
	}
}

// numbered returns n events "prefix-0000" … with their decisions for every other one, a minute apart
// from start.
func numbered(prefix string, n int, start time.Duration) *store.Batch {
	b := &store.Batch{}
	for i := range n {
		id := prefix + "-" + fmt.Sprintf("%04d", i)
		acct := "N" + strconv.Itoa(i%7)
		tm := at(start+time.Duration(i)*time.Minute, jst)
		b.Events = append(b.Events, ev(id, acct, "order", tm))
		if i%2 == 0 {
			b.Decisions = append(b.Decisions, dec(id, acct, "order", event.ActionAllow, i%1000, tm, reason("R", id)))
		}
	}
	return b
}
