package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/store"
)

const day = 24 * time.Hour

// quote returns a quote of symbol at tm.
func quote(id, symbol string, tm time.Time) store.EventRecord {
	raw := fmt.Appendf(nil, `{"id":%q,"type":"quote","time":%q,"symbol":%q,"price":100,"volume":1000}`, id, tm.Format(time.RFC3339Nano), symbol)
	return store.EventRecord{ID: id, Type: "quote", Time: tm, Raw: raw}
}

// retentionFixture stores five trading days (base, Monday, to Friday): for two symbols an instrument
// event and three quotes a day (09:00, 12:00, 15:00 JST), a login of A1 each day at 10:00 with its
// decision, a login the first day at 08:00, and one alert.
func retentionFixture(t *testing.T, s store.Store) (ids []string) {
	t.Helper()
	b := &store.Batch{}
	add := func(r store.EventRecord) {
		b.Events = append(b.Events, r)
		ids = append(ids, r.ID)
	}
	add(ev("l-early", "A1", "login", at(-time.Hour, jst)))
	for _, sym := range []string{"S1", "S2"} {
		add(ev("ins-"+sym, "", "instrument", at(-30*time.Minute, jst)))
	}
	for d := range 5 {
		for _, h := range []int{9, 12, 15} {
			for _, sym := range []string{"S1", "S2"} {
				add(quote(fmt.Sprintf("q-%s-%d-%d", sym, d, h), sym, at(time.Duration(d)*day+time.Duration(h-9)*time.Hour, jst)))
			}
			if h == 9 {
				id := fmt.Sprintf("l-%d", d)
				tm := at(time.Duration(d)*day+time.Hour, jst)
				add(ev(id, "A1", "login", tm))
				b.Decisions = append(b.Decisions, dec(id, "A1", "login", event.ActionAllow, 10, tm))
			}
		}
	}
	b.Alerts = []event.Alert{{ID: "al-r", Time: at(time.Hour, jst), Kind: event.AlertCampaign,
		Symbols: []string{"S1"}, Accounts: []string{"A1"}, Score: 900, Reasons: []event.Reason{reason("R", "")}}}
	appendOK(t, s, b)
	return ids
}

func maintainer(t *testing.T, s store.Store) store.Maintainer {
	t.Helper()
	m, ok := s.(store.Maintainer)
	if !ok {
		t.Fatalf("%T does not implement store.Maintainer", s)
	}
	return m
}

// testPrune deletes quotes and account events per retention, step by step, and checks what is left,
// the counts, the time range, and that decisions and alerts stay.
func testPrune(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	m := maintainer(t, s)
	if p, err := m.Prune(t.Context(), store.Retention{Quotes: time.Hour, RawEvents: time.Hour}); err != nil || p.Quotes+p.Events != 0 {
		t.Fatalf("Prune of an empty store: got %+v, %v, want nothing deleted", p, err)
	}
	held := retentionFixture(t, s)
	before := counts(t, s)
	quotesOf := func(days []int, hours ...int) []string {
		var out []string
		for _, d := range days {
			for _, h := range hours {
				out = append(out, fmt.Sprintf("q-S1-%d-%d", d, h), fmt.Sprintf("q-S2-%d-%d", d, h))
			}
		}
		return out
	}
	latest := at(4*day+6*time.Hour, jst)
	steps := []struct {
		name           string
		r              store.Retention
		quotes, events int64
		quotesBefore   time.Time // zero: none deleted by age
		deleted        []string
		first          time.Time
	}{
		{"keep everything", store.Retention{}, 0, 0, time.Time{}, nil, at(-time.Hour, jst)},
		// The cutoff (Monday 11:00) falls inside the first day: its 09:00 quotes are the last before it.
		{"quotes 100h", store.Retention{Quotes: 100 * time.Hour}, 0, 0, latest.Add(-100 * time.Hour), nil, at(-time.Hour, jst)},
		// 24h before Friday 15:00 is Thursday 15:00, but the two latest quote days stay whole.
		{"quotes 24h", store.Retention{Quotes: 24 * time.Hour}, 12, 0, at(3*day-9*time.Hour, jst),
			quotesOf([]int{0, 1, 2}, 9, 12), at(-time.Hour, jst)},
		{"quotes 24h again", store.Retention{Quotes: 24 * time.Hour}, 0, 0, at(3*day-9*time.Hour, jst), nil, at(-time.Hour, jst)},
		{"quotes 1h", store.Retention{Quotes: time.Hour}, 0, 0, at(3*day-9*time.Hour, jst), nil, at(-time.Hour, jst)},
		// Wednesday 15:00: the logins before it go, instrument events and quotes stay.
		{"raw events 48h", store.Retention{RawEvents: 48 * time.Hour}, 0, 4, time.Time{},
			[]string{"l-early", "l-0", "l-1", "l-2"}, at(-30*time.Minute, jst)},
	}
	gone := map[string]bool{}
	for _, st := range steps {
		p, err := m.Prune(t.Context(), st.r)
		if err != nil {
			t.Fatalf("%s: Prune: %v", st.name, err)
		}
		if p.Quotes != st.quotes || p.Events != st.events {
			t.Errorf("%s: got %d quotes and %d events deleted, want %d and %d", st.name, p.Quotes, p.Events, st.quotes, st.events)
		}
		if !sameTime(p.DataTime, latest) {
			t.Errorf("%s: DataTime: got %s, want %s", st.name, fmtTime(p.DataTime), fmtTime(latest))
		}
		if !p.QuotesBefore.Equal(st.quotesBefore) {
			t.Errorf("%s: QuotesBefore: got %s, want %s", st.name, fmtTime(p.QuotesBefore), fmtTime(st.quotesBefore))
		}
		for _, id := range st.deleted {
			gone[id] = true
		}
		var want []string
		for _, id := range held {
			if !gone[id] {
				want = append(want, id)
			}
		}
		_, recs := scanAll(t, s, 0)
		if got := eventIDs(recs); !slices.Equal(got, want) {
			t.Errorf("%s: events left: got %v, want %v", st.name, got, want)
		}
		c := counts(t, s)
		wantC := before
		wantC.Events = int64(len(want))
		if c != wantC {
			t.Errorf("%s: Counts: got %+v, want %+v", st.name, c, wantC)
		}
		e := extent(t, s)
		if e.Events != int64(len(want)) || !sameTime(e.First, st.first) || !sameTime(e.Last, latest) {
			t.Errorf("%s: Extent: got %d events from %s to %s, want %d from %s to %s", st.name, e.Events, fmtTime(e.First),
				fmtTime(e.Last), len(want), fmtTime(st.first), fmtTime(latest))
		}
	}
	if _, err := s.Decision(t.Context(), "l-0"); err != nil {
		t.Errorf("Decision of a pruned event: got %v, want it kept", err)
	}
	// A pruned event sent again is stored again; its decision is not written twice.
	appendOK(t, s, &store.Batch{Events: []store.EventRecord{ev("l-0", "A1", "login", at(time.Hour, jst))},
		Decisions: []event.Decision{dec("l-0", "A1", "login", event.ActionAllow, 10, at(time.Hour, jst))}})
	if c := counts(t, s); c.Decisions != before.Decisions || c.Events != before.Events-16+1 {
		t.Errorf("after the pruned event again: Counts: got %+v, want %d events and %d decisions", c, before.Events-16+1, before.Decisions)
	}
}

// testStats checks the rows of every table, the events by type and the sizes, before and after a
// prune and a compaction.
func testStats(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	m := maintainer(t, s)
	retentionFixture(t, s)
	wantRows := map[string]int64{"events": 38, "decisions": 5, "shadow_decisions": 0, "alerts": 1,
		"alert_accounts": 1, "alert_symbols": 1, "audit": 0, "api_keys": 0}
	check := func(name string, wantTypes []store.TypeCount) store.Stats {
		t.Helper()
		st, err := m.Stats(t.Context())
		if err != nil {
			t.Fatalf("%s: Stats: %v", name, err)
		}
		var names []string
		for _, tb := range st.Tables {
			names = append(names, tb.Name)
			if tb.Rows != wantRows[tb.Name] {
				t.Errorf("%s: rows of %s: got %d, want %d", name, tb.Name, tb.Rows, wantRows[tb.Name])
			}
			if tb.Name == "events" && tb.Bytes <= 0 {
				t.Errorf("%s: bytes of events: got %d, want > 0", name, tb.Bytes)
			}
		}
		if !slices.Equal(names, store.CountTables) {
			t.Errorf("%s: tables: got %v, want %v", name, names, store.CountTables)
		}
		if !slices.Equal(st.EventTypes, wantTypes) {
			t.Errorf("%s: event types: got %v, want %v", name, st.EventTypes, wantTypes)
		}
		if !sameTime(st.First, at(-time.Hour, jst)) || !sameTime(st.Last, at(4*day+6*time.Hour, jst)) {
			t.Errorf("%s: time range: got %s to %s, want %s to %s", name, fmtTime(st.First), fmtTime(st.Last),
				fmtTime(at(-time.Hour, jst)), fmtTime(at(4*day+6*time.Hour, jst)))
		}
		if st.Bytes <= 0 {
			t.Errorf("%s: Bytes: got %d, want > 0", name, st.Bytes)
		}
		return st
	}
	check("stored", []store.TypeCount{{Type: "instrument", Events: 2}, {Type: "login", Events: 6}, {Type: "quote", Events: 30}})
	p, err := m.Prune(t.Context(), store.Retention{Quotes: 24 * time.Hour})
	if err != nil || p.Quotes != 12 {
		t.Fatalf("Prune: got %d quotes deleted, %v, want 12", p.Quotes, err)
	}
	wantRows["events"] -= 12
	check("pruned", []store.TypeCount{{Type: "instrument", Events: 2}, {Type: "login", Events: 6}, {Type: "quote", Events: 18}})
	if err := m.Compact(t.Context()); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if st := check("compacted", []store.TypeCount{{Type: "instrument", Events: 2}, {Type: "login", Events: 6}, {Type: "quote", Events: 18}}); st.FreePages != 0 {
		t.Errorf("compacted: FreePages: got %d, want 0", st.FreePages)
	}
	appendOK(t, s, &store.Batch{Events: []store.EventRecord{ev("after", "A2", "login", at(4*day+time.Hour, jst))}})
	wantRows["events"]++
	check("appended after compaction", []store.TypeCount{{Type: "instrument", Events: 2}, {Type: "login", Events: 7}, {Type: "quote", Events: 18}})
}
