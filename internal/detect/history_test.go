package detect

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/profile"
	"github.com/brokerguard/brokerguard/internal/sim"
)

// lateDay is a customer's morning on 2025-04-11 (JST) after four quiet days: a login, a buy of a thin
// stock at 10:02, a sell of the whole holding at 10:03, a logout at 10:03:30, and in a new session at
// 10:04 another buy at 10:05. The first buy reaches the engine after the logout, a minute and a half
// late.
func lateDay(t *testing.T) (inTime, arrived []event.Event) {
	c := &campaignDay{}
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36"
	for d := 7; d <= 11; d++ {
		c.instruments(t, d)
		if d == 7 {
			c.add(t, `{"id":"snap","type":"snapshot","time":"%s","account":"A","cash":100000,"holdings":[{"symbol":"7203","quantity":1000,"cost":2500}],"opened":"2012-01-01","mfa":"sms_otp","notifications":true}`, jstAt(7, 8, 30, 0))
		}
		c.add(t, `{"id":"l%d","type":"login","time":"%s","account":"A","result":"success","method":"password","session":"s%d","ip":"153.1.4.9","device":"own","user_agent":"%s","country":"JP","channel":"web"}`, d, jstAt(d, 10, 0, 0), d, ua)
	}
	order := func(id, session string, mm int, sym, side string, qty int) {
		c.add(t, `{"id":"%s","type":"order","time":"%s","account":"A","order_id":"%s","session":"%s","ip":"153.1.4.9","device":"own","user_agent":"%s","symbol":"%s","side":"%s","quantity":%d,"account_type":"cash","channel":"web"}`,
			id, jstAt(11, 10, mm, 0), id, session, ua, sym, side, qty)
	}
	order("sell", "s11", 3, "7203", "sell", 1000)
	c.add(t, `{"id":"sellx","type":"execution","time":"%s","account":"A","order_id":"sell","exec_id":"sellx","symbol":"7203","side":"sell","quantity":1000,"price":3000,"fee":0}`, jstAt(11, 10, 3, 1))
	c.add(t, `{"id":"out","type":"logout","time":"%s","account":"A","session":"s11"}`, jstAt(11, 10, 3, 30))
	order("buy", "s11", 2, "8012", "buy", 5000)
	c.add(t, `{"id":"l11b","type":"login","time":"%s","account":"A","result":"success","method":"password","session":"s11b","ip":"153.1.4.9","device":"own","user_agent":"%s","country":"JP","channel":"web"}`, jstAt(11, 10, 4, 0), ua)
	order("next", "s11b", 5, "8012", "buy", 1000)
	arrived = c.evs
	inTime = slices.Clone(arrived)
	slices.SortStableFunc(inTime, func(a, b event.Event) int { return a.Time.Compare(b.Time) })
	return inTime, arrived
}

func decideAll(t *testing.T, e *Engine, evs []event.Event) (map[string]event.Decision, map[string]bool) {
	t.Helper()
	ds, late := map[string]event.Decision{}, map[string]bool{}
	for i := range evs {
		out := e.Process(&evs[i])
		if out.Decided {
			ds[out.Decision.ID] = out.Decision
		}
		late[evs[i].ID] = out.Late
	}
	return ds, late
}

func sameDecision(a, b event.Decision) bool {
	return a.Action == b.Action && a.Score == b.Score && reflect.DeepEqual(a.Reasons, b.Reasons)
}

func TestLateEventIsDecidedFromEarlierEventsOnly(t *testing.T) {
	inTime, arrived := lateDay(t)
	mk := func(lateness time.Duration) *Engine {
		e, err := New(Options{Lateness: lateness, NoCampaign: true})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	want, _ := decideAll(t, mk(5*time.Minute), inTime)
	e := mk(5 * time.Minute)
	got, late := decideAll(t, e, arrived)
	if !late["buy"] || late["sell"] || late["out"] || late["next"] {
		t.Errorf("late flags: buy %v, sell %v, next %v; want only the buy", late["buy"], late["sell"], late["next"])
	}
	// The buy came before the sell and the logout: it is neither a buy after a liquidation nor a request
	// in a session that has ended, as it would seem on arrival.
	if !sameDecision(got["buy"], want["buy"]) {
		t.Errorf("late buy decided %s %d %v; in time order it is %s %d %v", got["buy"].Action, got["buy"].Score, got["buy"].Reasons,
			want["buy"].Action, want["buy"].Score, want["buy"].Reasons)
	}
	// Nothing before the sell changed for it, so it was decided as in time order; and what follows sees
	// the account as time order made it.
	if !sameDecision(got["sell"], want["sell"]) {
		t.Fatalf("sell decided %+v before the buy arrived, %+v in time order: the rest of the test assumes they agree", got["sell"], want["sell"])
	}
	if !sameDecision(got["next"], want["next"]) {
		t.Errorf("next order decided %s %d %v; in time order %s %d %v", got["next"].Action, got["next"].Score, got["next"].Reasons,
			want["next"].Action, want["next"].Score, want["next"].Reasons)
	}

	// Without a lateness the engine takes events as they come, and the buy is judged with the logout
	// already in the account's history: the difference this feature exists for.
	asCame, _ := decideAll(t, mk(0), arrived)
	if hasReason(want["buy"], "SESSION_UNKNOWN") || !hasReason(asCame["buy"], "SESSION_UNKNOWN") {
		t.Errorf("SESSION_UNKNOWN on the buy: %v in time order, %v as it came without a lateness; want only the latter",
			want["buy"].Reasons, asCame["buy"].Reasons)
	}
}

// TestHistoryAppliesEventsAsLearned checks that what an account keeps of each event is all that its
// profile learned from it: the base and the kept events, applied again, give the live profile. A field
// learned from anything not kept would make a late event's rebuild differ from time order.
func TestHistoryAppliesEventsAsLearned(t *testing.T) {
	sc, err := sim.BuiltinScenario("small")
	if err != nil {
		t.Fatal(err)
	}
	var buf, truth bytes.Buffer
	if _, err := sim.Generate(context.Background(), sc, sim.Options{Seed: 3, Accounts: 400}, &buf, &truth); err != nil {
		t.Fatal(err)
	}
	// A long lateness keeps every event; a short one folds the older ones into the base as it goes.
	for _, lateness := range []time.Duration{1000 * time.Hour, 20 * time.Minute} {
		t.Run(lateness.String(), func(t *testing.T) { checkHistories(t, buf.Bytes(), lateness) })
	}
}

func checkHistories(t *testing.T, log []byte, lateness time.Duration) {
	e, err := New(Options{Lateness: lateness})
	if err != nil {
		t.Fatal(err)
	}
	var last time.Time
	accounts := map[string]bool{}
	for _, line := range bytes.Split(bytes.TrimSpace(log), []byte("\n")) {
		ev, err := event.Decode(line)
		if err != nil {
			t.Fatal(err)
		}
		e.Process(&ev)
		last = ev.Time
		if ev.Account != "" {
			accounts[ev.Account] = true
		}
	}
	checked, kept := 0, 0
	for acct := range accounts {
		e.Accounts().Peek(acct, func(p *profile.Profile) {
			if p == nil || p.History == nil {
				return
			}
			h := p.History
			kept += len(h.Entries)
			rebuilt := h.Base.Clone()
			for _, en := range h.Entries {
				e.reapply(&rebuilt, en)
			}
			live := p.Clone()
			if !reflect.DeepEqual(rebuilt, live) {
				t.Errorf("account %s: applied again from its history (%d events), the profile differs:\nrebuilt %+v\nlive    %+v",
					acct, len(h.Entries), rebuilt, live)
			}
			checked++
		})
	}
	if checked < 300 {
		t.Fatalf("only %d accounts had a history", checked)
	}
	t.Logf("%d accounts checked, %d events kept", checked, kept)
	if dropped, _ := e.ForgetHistory(last); dropped == checked {
		t.Errorf("all %d histories dropped at the newest event's time", dropped)
	}
	if dropped, kept := e.ForgetHistory(last.Add(lateness + time.Second)); kept != 0 {
		t.Errorf("past the lateness: dropped %d, kept %d; want none kept", dropped, kept)
	}
}

// BenchmarkProcessLateness is BenchmarkProcess on an engine that keeps account histories for late
// events (as serve runs it), with every event in time order and with one in fifty arriving after the
// account's next event.
func BenchmarkProcessLateness(b *testing.B) {
	for _, every := range []int{0, 50} {
		name := "in-order"
		if every > 0 {
			name = "late-1-in-50"
		}
		b.Run(name, func(b *testing.B) {
			evs := synthetic(5000, 8, 1)
			if every > 0 {
				// Swap an event with the next one of the same account, now and then.
				next := map[string]int{}
				for i := len(evs) - 1; i >= 0; i-- {
					a := evs[i].Account
					if a == "" {
						continue
					}
					if j, ok := next[a]; ok && i%every == 0 {
						evs[i], evs[j] = evs[j], evs[i]
					}
					next[a] = i
				}
			}
			span := evs[len(evs)-1].Time.Sub(evs[0].Time) + time.Hour
			e, err := New(Options{Lateness: 5 * time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			late := 0
			for i := 0; i < b.N; i++ {
				k := i % len(evs)
				if k == 0 && i > 0 {
					// The next pass happens later, so that it is not all late.
					for j := range evs {
						evs[j].Time = evs[j].Time.Add(span)
					}
				}
				if e.Process(&evs[k]).Late {
					late++
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(late)/float64(b.N), "late/event")
		})
	}
}

// TestHistoryIsBounded gives one account more events than a history keeps, then one that arrives late
// among the kept ones: the history stays bounded, the late event is placed, and the base with the kept
// events still gives the live profile.
func TestHistoryIsBounded(t *testing.T) {
	c := &campaignDay{}
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36"
	base := time.Date(2025, 4, 11, 9, 0, 0, 0, time.FixedZone("", 9*3600))
	login := func(id string, at time.Time, device string) {
		c.add(t, `{"id":"%s","type":"login","time":"%s","account":"A","result":"success","method":"password","session":"%s","ip":"153.1.4.9","device":"%s","user_agent":"%s","country":"JP","channel":"web"}`,
			id, at.Format(time.RFC3339), id, device, ua)
	}
	const n = profile.MaxHistory + 60
	for i := range n {
		login(fmt.Sprintf("l%d", i), base.Add(time.Duration(i)*time.Second), "own")
	}
	// 50 seconds late, from a device the account never used.
	login("late", base.Add((n-50)*time.Second+time.Second/2), "other")
	e, err := New(Options{Lateness: time.Hour, NoCampaign: true})
	if err != nil {
		t.Fatal(err)
	}
	_, late := decideAll(t, e, c.evs)
	if !late["late"] {
		t.Error("the late login was not placed as late")
	}
	e.Accounts().Peek("A", func(p *profile.Profile) {
		h := p.History
		if len(h.Entries) > profile.MaxHistory {
			t.Errorf("history holds %d events, more than %d", len(h.Entries), profile.MaxHistory)
		}
		for i := 1; i < len(h.Entries); i++ {
			if h.Entries[i].At < h.Entries[i-1].At {
				t.Fatalf("history out of time order at %d", i)
			}
		}
		rebuilt := h.Base.Clone()
		for _, en := range h.Entries {
			e.reapply(&rebuilt, en)
		}
		if live := p.Clone(); !reflect.DeepEqual(rebuilt, live) {
			t.Errorf("applied again from its history, the profile differs:\nrebuilt %+v\nlive    %+v", rebuilt, live)
		}
		if !p.Devices.Has(profile.Hash("other")) {
			t.Error("the late login's device was not learned")
		}
	})
}
