// Package storetest is the test suite every store.Store implementation passes: the SQLite store in
// every go test, the PostgreSQL store against a real server. It also holds the Append benchmark both
// report.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/store"
)

// Run runs the suite. open returns a Store on the database of t: calls with the same t open the same
// database, which is empty on the first call, and calls with different tests open different ones.
// The suite closes every Store it opens; Close must accept being called twice.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	openStore := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) store.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Idempotent", testIdempotent},
		{"Atomic", testAtomic},
		{"ScanEvents", testScanEvents},
		{"AccountEvents", testAccountEvents},
		{"Decision", testDecision},
		{"DecisionQuery", testDecisionQuery},
		{"DecisionLimitAndPaging", testDecisionPaging},
		{"DecisionsOfAnAccountAmongMany", testDecisionsAtScale},
		{"ShadowDecisions", testShadowDecisions},
		{"AlertQuery", testAlertQuery},
		{"Audit", testAudit},
		{"Extent", testExtent},
		{"EventsHeld", testEventsHeld},
		{"Keys", testKeys},
		{"StaffUsers", testStaffUsers},
		{"StaffSessions", testStaffSessions},
		{"AlertStatus", testAlertStatus},
		{"EventLookups", testEventLookups},
		{"Prune", testPrune},
		{"Stats", testStats},
		{"Concurrent", testConcurrent},
		{"Reopen", testReopen},
		{"Close", testClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, openStore) })
	}
}

// testRoundTrip appends one batch of every kind of record and reads every field back.
func testRoundTrip(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if got, want := counts(t, s), (store.Counts{}); got != want {
		t.Fatalf("Counts of an empty store: got %+v, want %+v", got, want)
	}
	if err := s.Append(t.Context(), &store.Batch{}); err != nil {
		t.Fatalf("Append(empty batch): %v", err)
	}

	login := parseTime(t, "2025-03-17T09:00:01.250000001+09:00")
	quote := parseTime(t, "2025-03-16T19:30:01-05:30")
	order := parseTime(t, "2025-03-17T00:00:02.5Z")
	wd := parseTime(t, "2025-03-17T09:00:03+00:00")
	events := []store.EventRecord{
		{ID: "ev-1", Account: "A1", Type: "login", Time: login,
			Raw: []byte(`{"id":"ev-1","type":"login","time":"2025-03-17T09:00:01.250000001+09:00","account":"A1", "ip":"203.0.113.7","user_agent":"Mozilla/5.0 \"quoted\" \u00e9","x_firm":{"nested":[1,2.50,null]}}`)},
		{ID: "ev-2", Account: "", Type: "quote", Time: quote,
			Raw: []byte("{\"id\":\"ev-2\",\"type\":\"quote\",\"time\":\"2025-03-16T19:30:01-05:30\",\"symbol\":\"7992\",\"note\":\"株式\"}\n")},
		{ID: "ev-3", Account: "口座-7", Type: "order", Time: order,
			Raw: []byte("{\"id\":\"ev-3\",\"bytes\":\"\xff\xfe\x00\x01\"}")},
		{ID: "ev-4", Account: "A1", Type: "withdrawal", Time: wd, Raw: []byte(`{}`)},
	}
	decisions := []event.Decision{
		dec("ev-1", "A1", "login", event.ActionAllow, 0, login),
		dec("ev-3", "口座-7", "order", event.ActionHold, 870, order,
			reason("LIQUIDATE_THEN_BUY_ILLIQUID", "sold 96% of holdings in 4 min; buy 7992 = 41x ADV share"),
			reason("NEW_DEVICE", `device "d-9" <first seen> & unknown`),
			reason("A_LAST", "")),
		dec("ev-4", "A1", "withdrawal", event.ActionBlock, 1000, wd, reason("NEW_DESTINATION", "bank ****1234")),
	}
	shadows := []store.ShadowDecision{
		{RuleSet: "rules-v2", Decision: dec("ev-3", "口座-7", "order", event.ActionBlock, 990, order, reason("SHADOW", "v2"))},
		{RuleSet: "rules-v3", Decision: dec("ev-3", "口座-7", "order", event.ActionReview, 500, order)},
	}
	alerts := []event.Alert{
		{ID: "al-1", Time: parseTime(t, "2025-03-17T09:14:00+09:00"), Kind: event.AlertCampaign,
			Symbols: []string{"7992", "6501"}, Accounts: []string{"A9", "A1", "A7"}, Score: 940,
			Reasons: []event.Reason{reason("HERDING_ILLIQUID_BUY", "3 accounts"), reason("SAME_MINUTE", "")}},
		{ID: "al-2", Time: parseTime(t, "2025-03-17T00:15:00.000000123Z"), Kind: event.AlertAccountTakeover,
			Accounts: []string{"A1"}, Score: 700, Reasons: []event.Reason{reason("ATO", "new device then withdrawal")}},
	}
	appendOK(t, s, &store.Batch{Events: events, Decisions: decisions, ShadowDecisions: shadows, Alerts: alerts})

	seqs, recs := scanAll(t, s, 0)
	if len(recs) != len(events) {
		t.Fatalf("ScanEvents: got %d events %v, want %d", len(recs), eventIDs(recs), len(events))
	}
	for i := range events {
		if d := diffEvent(recs[i], events[i]); d != "" {
			t.Errorf("ScanEvents[%d]: %s", i, d)
		}
	}
	if seqs[0] <= 0 {
		t.Errorf("first Seq: got %d, want > 0", seqs[0])
	}

	for _, want := range decisions {
		got, err := s.Decision(t.Context(), want.ID)
		if err != nil {
			t.Errorf("Decision(%q): %v", want.ID, err)
			continue
		}
		if d := diffDecision(got.Decision, want); d != "" {
			t.Errorf("Decision(%q): %s", want.ID, d)
		}
		if got.Seq <= 0 {
			t.Errorf("Decision(%q).Seq: got %d, want > 0", want.ID, got.Seq)
		}
	}

	ds, err := s.Decisions(t.Context(), store.DecisionQuery{})
	if err != nil {
		t.Fatalf("Decisions: %v", err)
	}
	if got, want := decisionIDs(ds), []string{"ev-4", "ev-3", "ev-1"}; !slices.Equal(got, want) {
		t.Fatalf("Decisions: got %v, want %v (newest first)", got, want)
	}
	for i, want := range []event.Decision{decisions[2], decisions[1], decisions[0]} {
		if d := diffDecision(ds[i].Decision, want); d != "" {
			t.Errorf("Decisions[%d]: %s", i, d)
		}
		if i > 0 && ds[i].Seq >= ds[i-1].Seq {
			t.Errorf("Decisions[%d].Seq: got %d after %d, want decreasing", i, ds[i].Seq, ds[i-1].Seq)
		}
	}

	sds, err := s.ShadowDecisions(t.Context(), store.DecisionQuery{})
	if err != nil {
		t.Fatalf("ShadowDecisions: %v", err)
	}
	if len(sds) != len(shadows) {
		t.Fatalf("ShadowDecisions: got %d, want %d", len(sds), len(shadows))
	}
	for i, want := range []store.ShadowDecision{shadows[1], shadows[0]} {
		if sds[i].RuleSet != want.RuleSet {
			t.Errorf("ShadowDecisions[%d].RuleSet: got %q, want %q", i, sds[i].RuleSet, want.RuleSet)
		}
		if d := diffDecision(sds[i].Decision, want.Decision); d != "" {
			t.Errorf("ShadowDecisions[%d]: %s", i, d)
		}
	}

	as, err := s.Alerts(t.Context(), store.AlertQuery{})
	if err != nil {
		t.Fatalf("Alerts: %v", err)
	}
	if got, want := alertIDs(as), []string{"al-2", "al-1"}; !slices.Equal(got, want) {
		t.Fatalf("Alerts: got %v, want %v (newest first)", got, want)
	}
	for i, want := range []event.Alert{alerts[1], alerts[0]} {
		if d := diffAlert(as[i].Alert, want); d != "" {
			t.Errorf("Alerts[%d]: %s", i, d)
		}
	}
	if as[0].Seq <= as[1].Seq {
		t.Errorf("Alerts Seq: got %d then %d, want decreasing", as[0].Seq, as[1].Seq)
	}

	if got, want := counts(t, s), (store.Counts{Events: 4, Decisions: 3, ShadowDecisions: 2, Alerts: 2}); got != want {
		t.Errorf("Counts: got %+v, want %+v", got, want)
	}
}

// testIdempotent appends batches that repeat records already stored, across and within batches.
func testIdempotent(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	tm := func(m int) time.Time { return at(time.Duration(m)*time.Minute, jst) }
	first := &store.Batch{
		Events: []store.EventRecord{ev("x1", "A1", "login", tm(1)), ev("x2", "A1", "order", tm(2)), ev("x3", "A2", "order", tm(3))},
		Decisions: []event.Decision{dec("x1", "A1", "login", event.ActionAllow, 10, tm(1)),
			dec("x3", "A2", "order", event.ActionHold, 800, tm(3), reason("FIRST", "stored first"))},
		ShadowDecisions: []store.ShadowDecision{{RuleSet: "r2", Decision: dec("x3", "A2", "order", event.ActionBlock, 900, tm(3))}},
		Alerts: []event.Alert{{ID: "al-x", Time: tm(3), Kind: event.AlertCampaign, Symbols: []string{"7992"},
			Accounts: []string{"A1", "A2"}, Score: 900}},
	}
	// mixed repeats x2, x3, the decision of x3, the shadow decision and al-x with other contents, and adds x4.
	mixed := &store.Batch{
		Events: []store.EventRecord{ev("x2", "A9", "order", tm(20)), ev("x4", "A1", "order", tm(4)), ev("x3", "A9", "cancel", tm(30))},
		Decisions: []event.Decision{dec("x3", "A2", "order", event.ActionAllow, 1, tm(3), reason("SECOND", "must not replace")),
			dec("x4", "A1", "order", event.ActionReview, 400, tm(4))},
		ShadowDecisions: []store.ShadowDecision{
			{RuleSet: "r2", Decision: dec("x3", "A2", "order", event.ActionAllow, 1, tm(3))},
			{RuleSet: "r3", Decision: dec("x3", "A2", "order", event.ActionAllow, 2, tm(3))}},
		Alerts: []event.Alert{
			{ID: "al-x", Time: tm(9), Kind: event.AlertBeneficiary, Accounts: []string{"A1", "A9"}, Score: 1},
			{ID: "al-y", Time: tm(4), Kind: event.AlertAccountTakeover, Accounts: []string{"A1"}, Score: 600}},
	}
	// inner repeats x5, its decision and al-z within one batch: the first of each is kept.
	inner := &store.Batch{
		Events: []store.EventRecord{ev("x5", "A3", "order", tm(5)), ev("x5", "A3", "order", tm(50))},
		Decisions: []event.Decision{dec("x5", "A3", "order", event.ActionChallenge, 650, tm(5)),
			dec("x5", "A3", "order", event.ActionAllow, 0, tm(5))},
		Alerts: []event.Alert{
			{ID: "al-z", Time: tm(5), Kind: event.AlertSharedInfrastructure, Accounts: []string{"A3", "A3"}, Score: 500},
			{ID: "al-z", Time: tm(6), Kind: event.AlertCampaign, Accounts: []string{"A1"}, Score: 1}},
	}
	steps := []struct {
		name       string
		batch      *store.Batch
		wantCounts store.Counts
		wantEvents []string
	}{
		{"first", first, store.Counts{Events: 3, Decisions: 2, ShadowDecisions: 1, Alerts: 1}, []string{"x1", "x2", "x3"}},
		{"same batch again", first, store.Counts{Events: 3, Decisions: 2, ShadowDecisions: 1, Alerts: 1}, []string{"x1", "x2", "x3"}},
		{"old and new mixed", mixed, store.Counts{Events: 4, Decisions: 3, ShadowDecisions: 2, Alerts: 2}, []string{"x1", "x2", "x3", "x4"}},
		{"mixed again", mixed, store.Counts{Events: 4, Decisions: 3, ShadowDecisions: 2, Alerts: 2}, []string{"x1", "x2", "x3", "x4"}},
		{"repeats within a batch", inner, store.Counts{Events: 5, Decisions: 4, ShadowDecisions: 2, Alerts: 3}, []string{"x1", "x2", "x3", "x4", "x5"}},
	}
	for _, st := range steps {
		appendOK(t, s, st.batch)
		if got := counts(t, s); got != st.wantCounts {
			t.Errorf("after %s: Counts: got %+v, want %+v", st.name, got, st.wantCounts)
		}
		if _, recs := scanAll(t, s, 0); !slices.Equal(eventIDs(recs), st.wantEvents) {
			t.Errorf("after %s: events: got %v, want %v", st.name, eventIDs(recs), st.wantEvents)
		}
	}

	// The first record stored under an ID is the one kept.
	_, recs := scanAll(t, s, 0)
	for _, want := range []store.EventRecord{first.Events[1], first.Events[2], inner.Events[0]} {
		i := slices.IndexFunc(recs, func(r store.EventRecord) bool { return r.ID == want.ID })
		if d := diffEvent(recs[i], want); d != "" {
			t.Errorf("stored event %s: %s", want.ID, d)
		}
	}
	for _, want := range []event.Decision{first.Decisions[1], inner.Decisions[0]} {
		got, err := s.Decision(t.Context(), want.ID)
		if err != nil {
			t.Fatalf("Decision(%q): %v", want.ID, err)
		}
		if d := diffDecision(got.Decision, want); d != "" {
			t.Errorf("Decision(%q): %s", want.ID, d)
		}
	}
	sds, err := s.ShadowDecisions(t.Context(), store.DecisionQuery{})
	if err != nil {
		t.Fatalf("ShadowDecisions: %v", err)
	}
	var sets []string
	for _, d := range sds {
		sets = append(sets, fmt.Sprintf("%s/%s/%d", d.RuleSet, d.ID, d.Score))
	}
	if want := []string{"r3/x3/2", "r2/x3/900"}; !slices.Equal(sets, want) {
		t.Errorf("ShadowDecisions: got %v, want %v", sets, want)
	}

	alertCases := []struct {
		q    store.AlertQuery
		want []string
	}{
		{store.AlertQuery{}, []string{"al-z", "al-y", "al-x"}},
		{store.AlertQuery{Account: "A1"}, []string{"al-y", "al-x"}},
		{store.AlertQuery{Account: "A9"}, nil}, // named only by the repeat of al-x, which was not stored
		{store.AlertQuery{Account: "A3"}, []string{"al-z"}},
		{store.AlertQuery{Symbol: "7992"}, []string{"al-x"}},
		{store.AlertQuery{Kind: event.AlertCampaign}, []string{"al-x"}},
	}
	for _, c := range alertCases {
		as, err := s.Alerts(t.Context(), c.q)
		if err != nil {
			t.Fatalf("Alerts(%+v): %v", c.q, err)
		}
		if got := alertIDs(as); !slices.Equal(got, c.want) {
			t.Errorf("Alerts(%+v): got %v, want %v", c.q, got, c.want)
		}
	}
	as, err := s.Alerts(t.Context(), store.AlertQuery{Kind: event.AlertSharedInfrastructure})
	if err != nil || len(as) != 1 {
		t.Fatalf("Alerts(al-z): got %v, %v; want one alert", alertIDs(as), err)
	}
	if d := diffAlert(as[0].Alert, inner.Alerts[0]); d != "" {
		t.Errorf("stored alert al-z: %s", d)
	}
}

// testAtomic checks that a failed Append leaves nothing behind and the store usable.
func testAtomic(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	b := numbered("c", 10, 0)
	if err := s.Append(cancelled, b); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a cancelled context: got %v, want an error wrapping %v", err, context.Canceled)
	}
	if got, want := counts(t, s), (store.Counts{}); got != want {
		t.Errorf("after a cancelled Append: Counts: got %+v, want %+v", got, want)
	}

	// The alert comes last in the batch and its time cannot be stored as Unix nanoseconds: whether the
	// store rejects it or stores it, it must do so for the whole batch.
	bad := numbered("bad", 300, 0)
	bad.Alerts = append(bad.Alerts, event.Alert{ID: "al-bad", Kind: event.AlertCampaign, Accounts: []string{"A1"},
		Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err := s.Append(t.Context(), bad); err != nil {
		if got, want := counts(t, s), (store.Counts{}); got != want {
			t.Errorf("after a failed Append (%v): Counts: got %+v, want %+v", err, got, want)
		}
		if _, recs := scanAll(t, s, 0); len(recs) != 0 {
			t.Errorf("after a failed Append: got %d events, want 0", len(recs))
		}
		if _, err := s.Decision(t.Context(), "bad-0000"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after a failed Append: Decision(bad-0000): got %v, want %v", err, store.ErrNotFound)
		}
	} else {
		t.Logf("the store accepts year 3000; checking the batch is whole")
		if got, want := counts(t, s), (store.Counts{Events: 300, Decisions: 150, Alerts: 1}); got != want {
			t.Errorf("Counts: got %+v, want %+v", got, want)
		}
	}
	var want store.Counts
	want = counts(t, s)

	// A deadline that ends while a large batch is being written, or as it begins or commits: all of it
	// or none of it, and the store still usable.
	for i, timeout := range []time.Duration{50 * time.Microsecond, 100 * time.Microsecond, 200 * time.Microsecond,
		500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
		20 * time.Millisecond, 50 * time.Millisecond, time.Second} {
		b := numbered(fmt.Sprintf("dl%d", i), 4000, 0)
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		err := s.Append(ctx, b)
		cancel()
		if err == nil {
			want.Events += int64(len(b.Events))
			want.Decisions += int64(len(b.Decisions))
		} else if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Append with a %v deadline: got %v, want nil or an error wrapping %v", timeout, err, context.DeadlineExceeded)
		}
		if got := counts(t, s); got != want {
			t.Errorf("after Append with a %v deadline (err %v): Counts: got %+v, want %+v", timeout, err, got, want)
		}
		if _, recs := scanAll(t, s, 0); int64(len(recs)) != want.Events {
			t.Errorf("after Append with a %v deadline (err %v): got %d events, want %d", timeout, err, len(recs), want.Events)
		}
	}

	// The store still works after the failures.
	appendOK(t, s, numbered("after", 5, 0))
	want.Events += 5
	want.Decisions += 3
	if got := counts(t, s); got != want {
		t.Errorf("after a good Append: Counts: got %+v, want %+v", got, want)
	}
}

// testScanEvents checks the order of ScanEvents, its cursor, and how it stops.
func testScanEvents(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	var want []store.EventRecord
	for _, b := range []*store.Batch{numbered("a", 1, 0), numbered("b", 2500, time.Hour), numbered("c", 3, 2*time.Hour)} {
		appendOK(t, s, b)
		want = append(want, b.Events...)
	}
	seqs, recs := scanAll(t, s, 0)
	if len(recs) != len(want) {
		t.Fatalf("ScanEvents(0): got %d events, want %d", len(recs), len(want))
	}
	// recs were kept across the whole scan: their Raw must not have been reused.
	for i := range want {
		if d := diffEvent(recs[i], want[i]); d != "" {
			t.Fatalf("ScanEvents(0)[%d]: %s", i, d)
		}
	}

	cases := []struct {
		name  string
		after int64
		want  []string
	}{
		{"from the start", 0, eventIDs(want)},
		{"negative cursor", -1, eventIDs(want)},
		{"after the first", seqs[0], eventIDs(want[1:])},
		{"after the 1500th", seqs[1499], eventIDs(want[1500:])},
		{"after the last but one", seqs[len(seqs)-2], eventIDs(want[len(want)-1:])},
		{"after the last", seqs[len(seqs)-1], nil},
		{"past the end", seqs[len(seqs)-1] + 1000, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, recs := scanAll(t, s, c.after)
			if got := eventIDs(recs); !slices.Equal(got, c.want) {
				t.Errorf("ScanEvents(%d): got %d events, want %d (first got %v)", c.after, len(got), len(c.want), got[:min(3, len(got))])
			}
		})
	}

	t.Run("fn error stops the scan", func(t *testing.T) {
		errStop := errors.New("stop")
		calls := 0
		err := s.ScanEvents(t.Context(), 0, func(int64, store.EventRecord) error {
			calls++
			if calls == 1200 {
				return errStop
			}
			return nil
		})
		if !errors.Is(err, errStop) {
			t.Errorf("ScanEvents error: got %v, want %v", err, errStop)
		}
		if calls != 1200 {
			t.Errorf("fn calls: got %d, want 1200", calls)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		err := s.ScanEvents(ctx, 0, func(int64, store.EventRecord) error {
			calls++
			if calls == 10 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("ScanEvents error: got %v, want %v", err, context.Canceled)
		}
		if calls >= len(want) {
			t.Errorf("fn calls: got %d, want fewer than %d", calls, len(want))
		}
	})
}

// testDecision checks the lookup of one decision.
func testDecision(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	appendOK(t, s, numbered("d", 4, 0))
	cases := []struct {
		id      string
		wantErr error
		wantAct event.Action
	}{
		{"d-0000", nil, event.ActionAllow},
		{"d-0002", nil, event.ActionAllow},
		{"d-0001", store.ErrNotFound, 0}, // an event without a decision
		{"nope", store.ErrNotFound, 0},
		{"", store.ErrNotFound, 0},
	}
	for _, c := range cases {
		got, err := s.Decision(t.Context(), c.id)
		if !errors.Is(err, c.wantErr) || (err == nil) != (c.wantErr == nil) {
			t.Errorf("Decision(%q): got error %v, want %v", c.id, err, c.wantErr)
			continue
		}
		if err == nil && (got.ID != c.id || got.Action != c.wantAct) {
			t.Errorf("Decision(%q): got %s/%v, want %s/%v", c.id, got.ID, got.Action, c.id, c.wantAct)
		}
	}
}

// decisionFixture appends 30 events and their decisions: accounts A1…A3 in turn, actions allow…block in
// turn, a minute apart, written alternately in UTC and +09:00; every third event is market data
// without a decision. It returns the decisions in append order with their Seq.
func decisionFixture(t *testing.T, s store.Store) []store.StoredDecision {
	t.Helper()
	b := &store.Batch{}
	for i := range 30 {
		loc := time.UTC
		if i%2 == 1 {
			loc = jst
		}
		tm := at(time.Duration(i)*time.Minute, loc)
		id := fmt.Sprintf("q%02d", i)
		acct := fmt.Sprintf("A%d", i%3+1)
		b.Events = append(b.Events, ev(id, acct, "order", tm))
		b.Decisions = append(b.Decisions, dec(id, acct, "order", event.Actions()[i%5], i*10, tm))
		b.ShadowDecisions = append(b.ShadowDecisions, store.ShadowDecision{RuleSet: fmt.Sprintf("r%d", i%2),
			Decision: dec(id, acct, "order", event.Actions()[(i+1)%5], i, tm)})
		if i%3 == 2 {
			b.Events = append(b.Events, ev(fmt.Sprintf("m%02d", i), "", "quote", tm))
		}
	}
	appendOK(t, s, b)
	ds, err := s.Decisions(t.Context(), store.DecisionQuery{Limit: 1000})
	if err != nil {
		t.Fatalf("Decisions: %v", err)
	}
	slices.Reverse(ds)
	if len(ds) != 30 {
		t.Fatalf("fixture decisions: got %d, want 30", len(ds))
	}
	return ds
}

// model selects from all (in append order) what q selects, newest first.
func model(all []store.StoredDecision, q store.DecisionQuery) []string {
	var out []string
	for i := len(all) - 1; i >= 0; i-- {
		d := all[i]
		switch {
		case q.Account != "" && d.Account != q.Account,
			q.Action != "" && d.Action.String() != q.Action,
			!q.Since.IsZero() && d.Time.Before(q.Since),
			!q.Until.IsZero() && !d.Time.Before(q.Until),
			q.Before > 0 && d.Seq >= q.Before:
			continue
		}
		out = append(out, d.ID)
	}
	n := q.Limit
	if n <= 0 {
		n = 100
	}
	return out[:min(n, len(out))]
}

func testDecisionQuery(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	all := decisionFixture(t, s)
	seq := func(i int) int64 { return all[i].Seq }
	minute := func(i int) time.Time { return at(time.Duration(i)*time.Minute, nyc) }
	cases := []struct {
		name string
		q    store.DecisionQuery
		want []string // nil: as model says
	}{
		{"all", store.DecisionQuery{}, nil},
		{"account", store.DecisionQuery{Account: "A2"}, []string{"q28", "q25", "q22", "q19", "q16", "q13", "q10", "q07", "q04", "q01"}},
		{"unknown account", store.DecisionQuery{Account: "A0"}, []string{}},
		{"action", store.DecisionQuery{Action: "hold"}, []string{"q28", "q23", "q18", "q13", "q08", "q03"}},
		{"account and action", store.DecisionQuery{Account: "A1", Action: "hold"}, []string{"q18", "q03"}},
		{"unknown action", store.DecisionQuery{Action: "ignore"}, []string{}},
		{"since, inclusive", store.DecisionQuery{Since: minute(27)}, []string{"q29", "q28", "q27"}},
		{"until, exclusive", store.DecisionQuery{Until: minute(2)}, []string{"q01", "q00"}},
		{"since and until", store.DecisionQuery{Since: minute(10), Until: minute(13)}, []string{"q12", "q11", "q10"}},
		{"since, in another offset", store.DecisionQuery{Since: at(27*time.Minute+time.Nanosecond, ist)}, []string{"q29", "q28"}},
		{"before", store.DecisionQuery{Before: seq(3)}, []string{"q02", "q01", "q00"}},
		{"before the first", store.DecisionQuery{Before: seq(0)}, []string{}},
		{"limit", store.DecisionQuery{Limit: 4}, []string{"q29", "q28", "q27", "q26"}},
		{"everything at once", store.DecisionQuery{Account: "A3", Action: "allow", Since: minute(3), Until: minute(29), Before: seq(28), Limit: 1},
			[]string{"q20"}},
		{"account, before, limit", store.DecisionQuery{Account: "A1", Before: seq(15), Limit: 2}, []string{"q12", "q09"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds, err := s.Decisions(t.Context(), c.q)
			if err != nil {
				t.Fatalf("Decisions(%+v): %v", c.q, err)
			}
			want := c.want
			if want == nil {
				want = model(all, c.q)
			} else if m := model(all, c.q); !slices.Equal(m, want) {
				t.Fatalf("case is inconsistent with the model: model %v, want %v", m, want)
			}
			if got := decisionIDs(ds); !slices.Equal(got, want) {
				t.Errorf("Decisions(%+v): got %v, want %v", c.q, got, want)
			}
			for _, d := range ds {
				i := slices.IndexFunc(all, func(x store.StoredDecision) bool { return x.ID == d.ID })
				if d.Seq != all[i].Seq {
					t.Errorf("%s.Seq: got %d, want %d", d.ID, d.Seq, all[i].Seq)
				}
				if diff := diffDecision(d.Decision, all[i].Decision); diff != "" {
					t.Errorf("%s", diff)
				}
			}
		})
	}
}

// testDecisionPaging checks the default limit and that paging with Before visits every decision once.
func testDecisionPaging(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	b := numbered("p", 300, 0) // 150 decisions
	appendOK(t, s, b)

	for _, lim := range []int{0, -5} {
		ds, err := s.Decisions(t.Context(), store.DecisionQuery{Limit: lim})
		if err != nil {
			t.Fatalf("Decisions(Limit %d): %v", lim, err)
		}
		if len(ds) != 100 {
			t.Errorf("Decisions(Limit %d): got %d, want 100", lim, len(ds))
		}
		if len(ds) > 0 && ds[0].ID != "p-0298" {
			t.Errorf("Decisions(Limit %d)[0]: got %s, want p-0298 (the newest)", lim, ds[0].ID)
		}
	}

	for _, page := range []int{7, 50, 150, 1000} {
		var got []string
		q := store.DecisionQuery{Limit: page}
		for range 200 {
			ds, err := s.Decisions(t.Context(), q)
			if err != nil {
				t.Fatalf("Decisions(%+v): %v", q, err)
			}
			if len(ds) > page {
				t.Fatalf("Decisions(%+v): got %d, want at most %d", q, len(ds), page)
			}
			got = append(got, decisionIDs(ds)...)
			if len(ds) < page {
				break
			}
			q.Before = ds[len(ds)-1].Seq
		}
		var want []string
		for i := len(b.Decisions) - 1; i >= 0; i-- {
			want = append(want, b.Decisions[i].ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages of %d: got %d decisions %v…, want %d %v…", page, len(got), got[:min(3, len(got))], len(want), want[:3])
		}
	}
}

// testDecisionsAtScale queries the decisions of accounts among 20,000, enough for a store to have to
// look past its most recent decisions.
func testDecisionsAtScale(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	const n = 20000
	acct := func(i int) string {
		if i%7919 == 0 {
			return "RARE"
		}
		return fmt.Sprintf("S%d", i%4)
	}
	var all []event.Decision
	for start := 0; start < n; start += 5000 {
		b := &store.Batch{}
		for i := start; i < start+5000; i++ {
			id := fmt.Sprintf("big-%05d", i)
			tm := at(time.Duration(i)*time.Second, jst)
			b.Events = append(b.Events, ev(id, acct(i), "order", tm))
			b.Decisions = append(b.Decisions, dec(id, acct(i), "order", event.Actions()[i%5], i%1000, tm))
		}
		appendOK(t, s, b)
		all = append(all, b.Decisions...)
	}
	newestFirst := func(keep func(i int) bool) []string {
		var out []string
		for i := n - 1; i >= 0; i-- {
			if keep(i) {
				out = append(out, all[i].ID)
			}
		}
		return out
	}
	rare, err := s.Decisions(t.Context(), store.DecisionQuery{Account: "RARE"})
	if err != nil {
		t.Fatalf("Decisions(RARE): %v", err)
	}
	if got, want := decisionIDs(rare), []string{"big-15838", "big-07919", "big-00000"}; !slices.Equal(got, want) {
		t.Fatalf("Decisions(RARE): got %v, want %v", got, want)
	}
	cases := []struct {
		name string
		q    store.DecisionQuery
		want []string
	}{
		{"rare account before its newest", store.DecisionQuery{Account: "RARE", Before: rare[0].Seq}, []string{"big-07919", "big-00000"}},
		{"rare account, limit 1", store.DecisionQuery{Account: "RARE", Before: rare[1].Seq, Limit: 1}, []string{"big-00000"}},
		{"account and action", store.DecisionQuery{Account: "S2", Action: "block", Limit: 5000},
			newestFirst(func(i int) bool { return acct(i) == "S2" && i%5 == 4 })},
		{"account and time", store.DecisionQuery{Account: "S3", Since: at(100*time.Second, time.UTC), Until: at(120*time.Second, time.UTC)},
			newestFirst(func(i int) bool { return acct(i) == "S3" && i >= 100 && i < 120 })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds, err := s.Decisions(t.Context(), c.q)
			if err != nil {
				t.Fatalf("Decisions(%+v): %v", c.q, err)
			}
			if got := decisionIDs(ds); !slices.Equal(got, c.want) {
				t.Errorf("Decisions(%+v): got %d %v…, want %d %v…", c.q, len(got), got[:min(3, len(got))], len(c.want), c.want[:min(3, len(c.want))])
			}
		})
	}

	t.Run("paging through one account", func(t *testing.T) {
		var got []string
		q := store.DecisionQuery{Account: "S1", Limit: 700}
		for range 20 {
			ds, err := s.Decisions(t.Context(), q)
			if err != nil {
				t.Fatalf("Decisions(%+v): %v", q, err)
			}
			got = append(got, decisionIDs(ds)...)
			if len(ds) < q.Limit {
				break
			}
			q.Before = ds[len(ds)-1].Seq
		}
		want := newestFirst(func(i int) bool { return acct(i) == "S1" })
		if !slices.Equal(got, want) {
			t.Errorf("pages of S1: got %d decisions, want %d", len(got), len(want))
		}
	})
}

func testShadowDecisions(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	decisionFixture(t, s)
	cases := []struct {
		name string
		q    store.DecisionQuery
		want []string // rule set/event id, newest first
	}{
		{"limit", store.DecisionQuery{Limit: 3}, []string{"r1/q29", "r0/q28", "r1/q27"}},
		{"account", store.DecisionQuery{Account: "A1", Limit: 4}, []string{"r1/q27", "r0/q24", "r1/q21", "r0/q18"}},
		{"action", store.DecisionQuery{Action: "block", Limit: 3}, []string{"r0/q28", "r1/q23", "r0/q18"}},
		{"since and until", store.DecisionQuery{Since: at(5*time.Minute, nyc), Until: at(8*time.Minute, time.UTC)},
			[]string{"r1/q07", "r0/q06", "r1/q05"}},
		{"none", store.DecisionQuery{Account: "A0"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sds, err := s.ShadowDecisions(t.Context(), c.q)
			if err != nil {
				t.Fatalf("ShadowDecisions(%+v): %v", c.q, err)
			}
			var got []string
			for _, d := range sds {
				got = append(got, d.RuleSet+"/"+d.ID)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("ShadowDecisions(%+v): got %v, want %v", c.q, got, c.want)
			}
		})
	}
	sds, err := s.ShadowDecisions(t.Context(), store.DecisionQuery{})
	if err != nil {
		t.Fatalf("ShadowDecisions: %v", err)
	}
	if len(sds) != 30 {
		t.Fatalf("ShadowDecisions: got %d, want 30", len(sds))
	}
	for _, d := range sds {
		var i int
		fmt.Sscanf(d.ID, "q%d", &i)
		want := dec(d.ID, fmt.Sprintf("A%d", i%3+1), "order", event.Actions()[(i+1)%5], i, d.Time)
		if diff := diffDecision(d.Decision, want); diff != "" {
			t.Errorf("shadow decision: %s", diff)
		}
	}
	if got, want := counts(t, s).ShadowDecisions, int64(30); got != want {
		t.Errorf("Counts.ShadowDecisions: got %d, want %d", got, want)
	}
}

func testAlertQuery(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	kinds := []string{event.AlertAccountTakeover, event.AlertCampaign, event.AlertBeneficiary,
		event.AlertCredentialStuffing, event.AlertSharedInfrastructure}
	symbols := [][]string{nil, {"7992"}, {"6501", "7992"}, {"9984"}}
	accounts := [][]string{{"A1"}, {"A1", "A2", "A3"}, nil, {"A3", "A4"}, {"A2"}}
	var all []event.Alert
	for i := range 20 {
		all = append(all, event.Alert{ID: fmt.Sprintf("al%02d", i), Kind: kinds[i%5], Symbols: symbols[i%4],
			Accounts: accounts[i%5], Score: 500 + i, Time: at(time.Duration(i)*time.Minute, []*time.Location{jst, time.UTC, nyc}[i%3]),
			Reasons: []event.Reason{reason("K", fmt.Sprint(i))}})
	}
	appendOK(t, s, &store.Batch{Alerts: all[:12]})
	appendOK(t, s, &store.Batch{Alerts: all[12:]})
	stored, err := s.Alerts(t.Context(), store.AlertQuery{Limit: 100})
	if err != nil || len(stored) != 20 {
		t.Fatalf("Alerts: got %d, %v; want 20", len(stored), err)
	}
	seq := map[string]int64{}
	for i, a := range stored {
		seq[a.ID] = a.Seq
		if d := diffAlert(a.Alert, all[19-i]); d != "" {
			t.Errorf("Alerts[%d]: %s", i, d)
		}
	}
	minute := func(i int) time.Time { return at(time.Duration(i)*time.Minute, ist) }
	cases := []struct {
		name string
		q    store.AlertQuery
		want []string
	}{
		{"limit", store.AlertQuery{Limit: 3}, []string{"al19", "al18", "al17"}},
		{"default limit", store.AlertQuery{}, nil}, // filled in below: all 20
		{"kind", store.AlertQuery{Kind: event.AlertCampaign}, []string{"al16", "al11", "al06", "al01"}},
		{"account", store.AlertQuery{Account: "A2"}, []string{"al19", "al16", "al14", "al11", "al09", "al06", "al04", "al01"}},
		{"account named with others", store.AlertQuery{Account: "A4"}, []string{"al18", "al13", "al08", "al03"}},
		{"unknown account", store.AlertQuery{Account: "A0"}, nil},
		{"symbol", store.AlertQuery{Symbol: "7992"}, []string{"al18", "al17", "al14", "al13", "al10", "al09", "al06", "al05", "al02", "al01"}},
		{"account and symbol", store.AlertQuery{Account: "A1", Symbol: "7992"}, []string{"al10", "al06", "al05", "al01"}},
		{"kind and account", store.AlertQuery{Kind: event.AlertCredentialStuffing, Account: "A3"}, []string{"al18", "al13", "al08", "al03"}},
		{"since and until", store.AlertQuery{Since: minute(5), Until: minute(8)}, []string{"al07", "al06", "al05"}},
		{"before", store.AlertQuery{Before: seq["al02"]}, []string{"al01", "al00"}},
		{"symbol, before, limit", store.AlertQuery{Symbol: "7992", Before: seq["al14"], Limit: 2}, []string{"al13", "al10"}},
		{"account, since, limit", store.AlertQuery{Account: "A1", Since: minute(2), Limit: 2}, []string{"al16", "al15"}},
	}
	for i := range 20 {
		cases[1].want = append(cases[1].want, fmt.Sprintf("al%02d", 19-i))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as, err := s.Alerts(t.Context(), c.q)
			if err != nil {
				t.Fatalf("Alerts(%+v): %v", c.q, err)
			}
			if got := alertIDs(as); !slices.Equal(got, c.want) {
				t.Errorf("Alerts(%+v): got %v, want %v", c.q, got, c.want)
			}
		})
	}
}

// testConcurrent appends from several goroutines while others read.
func testConcurrent(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	const writers, batches, perBatch = 4, 12, 150
	var (
		wg      sync.WaitGroup
		done    = make(chan struct{})
		errs    = make(chan error, writers+2)
		readers sync.WaitGroup
	)
	for r := range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var last store.Counts
			for {
				select {
				case <-done:
					return
				default:
				}
				c, err := s.Counts(t.Context())
				if err != nil {
					errs <- fmt.Errorf("reader %d: Counts: %w", r, err)
					return
				}
				if c.Events < last.Events || c.Decisions < last.Decisions || c.Alerts < last.Alerts {
					errs <- fmt.Errorf("reader %d: Counts went back: got %+v after %+v", r, c, last)
					return
				}
				last = c
				prev := int64(0)
				if err := s.ScanEvents(t.Context(), 0, func(seq int64, _ store.EventRecord) error {
					if seq <= prev {
						return fmt.Errorf("seq %d after %d", seq, prev)
					}
					prev = seq
					return nil
				}); err != nil {
					errs <- fmt.Errorf("reader %d: ScanEvents: %w", r, err)
					return
				}
				if _, err := s.Decisions(t.Context(), store.DecisionQuery{Account: "N3", Limit: 10}); err != nil {
					errs <- fmt.Errorf("reader %d: Decisions: %w", r, err)
					return
				}
			}
		}()
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range batches {
				b := numbered(fmt.Sprintf("w%d-%02d", w, i), perBatch, 0)
				b.Alerts = []event.Alert{{ID: fmt.Sprintf("al-w%d-%02d", w, i), Kind: event.AlertCampaign,
					Accounts: []string{fmt.Sprintf("W%d", w)}, Time: base}}
				if err := s.Append(t.Context(), b); err != nil {
					errs <- fmt.Errorf("writer %d: Append: %w", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	want := store.Counts{Events: writers * batches * perBatch, Decisions: writers * batches * perBatch / 2, Alerts: writers * batches}
	if got := counts(t, s); got != want {
		t.Errorf("Counts: got %+v, want %+v", got, want)
	}
	_, recs := scanAll(t, s, 0)
	seen := map[string]int{}
	for i, r := range recs {
		if _, dup := seen[r.ID]; dup {
			t.Fatalf("event %s stored twice", r.ID)
		}
		seen[r.ID] = i
	}
	// Each writer's batches are stored in the order it appended them.
	for w := range writers {
		prev := -1
		for i := range batches {
			for j := range perBatch {
				id := fmt.Sprintf("w%d-%02d-%04d", w, i, j)
				pos, ok := seen[id]
				if !ok {
					t.Fatalf("event %s missing", id)
				}
				if pos <= prev {
					t.Fatalf("event %s at position %d, before its predecessor at %d", id, pos, prev)
				}
				prev = pos
			}
		}
		as, err := s.Alerts(t.Context(), store.AlertQuery{Account: fmt.Sprintf("W%d", w)})
		if err != nil || len(as) != batches {
			t.Errorf("Alerts(W%d): got %d, %v; want %d", w, len(as), err, batches)
		}
	}
}

// testReopen closes the store and opens the same database again.
func testReopen(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	first := numbered("r1", 50, 0)
	first.Alerts = []event.Alert{{ID: "al-r1", Kind: event.AlertCampaign, Symbols: []string{"7992"}, Accounts: []string{"A1"}, Time: base}}
	first.ShadowDecisions = []store.ShadowDecision{{RuleSet: "v9", Decision: first.Decisions[0]}}
	appendOK(t, s, first)
	seqs1, recs1 := scanAll(t, s, 0)
	d1, err := s.Decision(t.Context(), "r1-0010")
	if err != nil {
		t.Fatalf("Decision: %v", err)
	}
	c1 := counts(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t)
	seqs2, recs2 := scanAll(t, s, 0)
	if !slices.Equal(seqs2, seqs1) || !slices.Equal(eventIDs(recs2), eventIDs(recs1)) {
		t.Fatalf("after reopening: got events %v at %v, want %v at %v", eventIDs(recs2)[:3], seqs2[:3], eventIDs(recs1)[:3], seqs1[:3])
	}
	for i := range recs1 {
		if d := diffEvent(recs2[i], recs1[i]); d != "" {
			t.Fatalf("after reopening: %s", d)
		}
	}
	if got := counts(t, s); got != c1 {
		t.Errorf("after reopening: Counts: got %+v, want %+v", got, c1)
	}
	d2, err := s.Decision(t.Context(), "r1-0010")
	if err != nil || d2.Seq != d1.Seq || diffDecision(d2.Decision, d1.Decision) != "" {
		t.Errorf("after reopening: Decision: got %+v, %v; want %+v", d2, err, d1)
	}
	if as, err := s.Alerts(t.Context(), store.AlertQuery{Symbol: "7992"}); err != nil || len(as) != 1 {
		t.Errorf("after reopening: Alerts(7992): got %d, %v; want 1", len(as), err)
	}

	appendOK(t, s, first) // still idempotent
	second := numbered("r2", 20, time.Hour)
	appendOK(t, s, second)
	seqs3, recs3 := scanAll(t, s, seqs1[len(seqs1)-1])
	if got, want := eventIDs(recs3), eventIDs(second.Events); !slices.Equal(got, want) {
		t.Errorf("events appended after reopening: got %v, want %v", got, want)
	}
	if len(seqs3) > 0 && seqs3[0] <= seqs1[len(seqs1)-1] {
		t.Errorf("first Seq after reopening: got %d, want > %d", seqs3[0], seqs1[len(seqs1)-1])
	}
	ds, err := s.Decisions(t.Context(), store.DecisionQuery{Limit: 1})
	if err != nil || len(ds) != 1 || ds[0].ID != "r2-0018" || ds[0].Seq <= d1.Seq {
		t.Errorf("newest decision after reopening: got %+v, %v; want r2-0018 with Seq > %d", ds, err, d1.Seq)
	}
	want := store.Counts{Events: c1.Events + 20, Decisions: c1.Decisions + 10, ShadowDecisions: 1, Alerts: 1}
	if got := counts(t, s); got != want {
		t.Errorf("Counts: got %+v, want %+v", got, want)
	}
}

// testClose checks that Close waits for work in progress and that a closed store says so.
func testClose(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	appendOK(t, s, numbered("z", 10, 0))

	started, release := make(chan struct{}), make(chan struct{})
	scanDone := make(chan error, 1)
	go func() {
		first := true
		scanDone <- s.ScanEvents(context.Background(), 0, func(int64, store.EventRecord) error {
			if first {
				first = false
				close(started)
				<-release
			}
			return nil
		})
	}()
	<-started
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a scan was in progress; want it to wait", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-scanDone; err != nil {
		t.Errorf("the scan in progress during Close: got %v, want nil", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}

	ctx := t.Context()
	ops := []struct {
		name string
		call func() error
	}{
		{"Append", func() error { return s.Append(ctx, numbered("late", 1, 0)) }},
		{"ScanEvents", func() error {
			return s.ScanEvents(ctx, 0, func(int64, store.EventRecord) error { return nil })
		}},
		{"Decision", func() error { _, err := s.Decision(ctx, "z-0000"); return err }},
		{"Decisions", func() error { _, err := s.Decisions(ctx, store.DecisionQuery{}); return err }},
		{"ShadowDecisions", func() error { _, err := s.ShadowDecisions(ctx, store.DecisionQuery{}); return err }},
		{"Alerts", func() error { _, err := s.Alerts(ctx, store.AlertQuery{}); return err }},
		{"Counts", func() error { _, err := s.Counts(ctx); return err }},
		{"Extent", func() error { _, err := s.Extent(ctx); return err }},
		{"EventsHeld", func() error { _, err := s.EventsHeld(ctx, []string{"z-0000"}); return err }},
		{"Keys", func() error { _, err := s.Keys(ctx); return err }},
		{"KeyByHash", func() error { _, err := s.KeyByHash(ctx, [32]byte{}); return err }},
		{"Ping", func() error { return s.Ping(ctx) }},
	}
	for _, op := range ops {
		if err := op.call(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: got %v, want %v", op.name, err, store.ErrClosed)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
}

func testAudit(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 7, 1, 2, 3, 456789000, time.UTC)
	d0 := time.Date(2025, 4, 11, 1, 2, 3, 456789000, time.UTC) // the data's time, long before the action
	recs := []store.AuditRecord{
		{Time: t0, DataTime: d0, Actor: "alice", Action: "watchlist.add", Target: "symbol:8012", Reason: "pumped on 4/11", Data: json.RawMessage(`{"kind":"symbol","value":"8012"}`)},
		{Time: t0.Add(time.Minute), Actor: "bob", Action: "account.unlock", Target: "account:A1", Reason: "re-verified at the branch"},
		{Time: t0.Add(2 * time.Minute), Actor: "alice", Action: "watchlist.remove", Target: "symbol:8012", Reason: "campaign over"},
	}
	var last int64
	for i := range recs {
		if err := s.AppendAudit(ctx, &recs[i]); err != nil {
			t.Fatalf("AppendAudit %d: %v", i, err)
		}
		if recs[i].Seq <= last {
			t.Fatalf("seq %d after %d", recs[i].Seq, last)
		}
		last = recs[i].Seq
	}
	if err := s.AppendAudit(ctx, &store.AuditRecord{Time: t0, Actor: "x", Action: "y", Target: "z", Data: json.RawMessage(`{"broken`)}); err == nil {
		t.Error("AppendAudit accepted data that is not JSON")
	}
	all, err := s.Audit(ctx, store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].Seq != recs[0].Seq || all[2].Seq != recs[2].Seq {
		t.Fatalf("Audit = %+v", all)
	}
	got := all[0]
	if !got.DataTime.Equal(d0) || !all[1].DataTime.IsZero() {
		t.Errorf("data times = %v, %v; want %v and zero", got.DataTime, all[1].DataTime, d0)
	}
	if !got.Time.Equal(t0) || got.Actor != "alice" || got.Action != "watchlist.add" || got.Target != "symbol:8012" || got.Reason != "pumped on 4/11" {
		t.Errorf("record = %+v", got)
	}
	var data map[string]string
	if err := json.Unmarshal(got.Data, &data); err != nil || data["value"] != "8012" {
		t.Errorf("data = %s (%v)", got.Data, err)
	}
	if string(all[1].Data) != "{}" {
		t.Errorf("empty data read back as %q", all[1].Data)
	}
	byTarget, err := s.Audit(ctx, store.AuditQuery{Target: "symbol:8012"})
	if err != nil || len(byTarget) != 2 || byTarget[1].Action != "watchlist.remove" {
		t.Errorf("by target = %+v, %v", byTarget, err)
	}
	byPrefix, err := s.Audit(ctx, store.AuditQuery{Action: "watchlist."})
	if err != nil || len(byPrefix) != 2 {
		t.Errorf("by action prefix = %+v, %v", byPrefix, err)
	}
	exact, err := s.Audit(ctx, store.AuditQuery{Action: "account.unlock"})
	if err != nil || len(exact) != 1 || exact[0].Actor != "bob" {
		t.Errorf("by action = %+v, %v", exact, err)
	}
	page, err := s.Audit(ctx, store.AuditQuery{After: recs[0].Seq, Limit: 1})
	if err != nil || len(page) != 1 || page[0].Seq != recs[1].Seq {
		t.Errorf("page = %+v, %v", page, err)
	}
}
