package detect

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/profile"
	"github.com/brokerguard/brokerguard/internal/sim"
)

// lateDay is a customer's morning on 2025-04-11 (JST) after four quiet days, holding 1,000 7203 since
// before the data: at 10:00 a login; an order to buy 500 7203 at 10:00:30 and one to sell 1,000 at 10:01;
// the buy executes at 10:02, the sell at 10:03; a small buy of a thin stock at 10:03:20; a logout at
// 10:03:30; at 10:04 a login in a new session, and at 10:05 a sell of 500 7203.
//
// The buy's execution and the 10:03:20 buy reach the engine late, after the logout. Placed in time, the
// 10:03:20 buy is a request in a live session, and the last 500 shares are the long-held ones; taken as
// they came, the buy is in a session that has ended, and the shares were bought today.
func lateDay(t *testing.T) (inTime, arrived []event.Event) {
	c := &campaignDay{}
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36"
	for d := 7; d <= 11; d++ {
		c.instruments(t, d)
		if d == 7 {
			c.add(t, `{"id":"snap","type":"snapshot","time":"%s","account":"A","cash":5000000,"holdings":[{"symbol":"7203","quantity":1000,"cost":2500}],"opened":"2012-01-01","mfa":"sms_otp","notifications":true}`, jstAt(7, 8, 30, 0))
		}
		c.add(t, `{"id":"l%d","type":"login","time":"%s","account":"A","result":"success","method":"password","session":"s%d","ip":"153.1.4.9","device":"own","user_agent":"%s","country":"JP","channel":"web"}`, d, jstAt(d, 10, 0, 0), d, ua)
	}
	order := func(id, session string, mm, ss int, sym, side string, qty int) {
		c.add(t, `{"id":"%s","type":"order","time":"%s","account":"A","order_id":"%s","session":"%s","ip":"153.1.4.9","device":"own","user_agent":"%s","symbol":"%s","side":"%s","quantity":%d,"account_type":"cash","channel":"web"}`,
			id, jstAt(11, 10, mm, ss), id, session, ua, sym, side, qty)
	}
	exec := func(id, side string, mm, qty int) {
		c.add(t, `{"id":"%sx","type":"execution","time":"%s","account":"A","order_id":"%s","exec_id":"%sx","symbol":"7203","side":"%s","quantity":%d,"price":3000,"fee":0}`,
			id, jstAt(11, 10, mm, 0), id, id, side, qty)
	}
	order("buy", "s11", 0, 30, "7203", "buy", 500)
	order("sell", "s11", 1, 0, "7203", "sell", 1000)
	exec("sell", "sell", 3, 1000)
	c.add(t, `{"id":"out","type":"logout","time":"%s","account":"A","session":"s11"}`, jstAt(11, 10, 3, 30))
	exec("buy", "buy", 2, 500)                     // late
	order("chk", "s11", 3, 20, "8012", "buy", 100) // late
	c.add(t, `{"id":"l11b","type":"login","time":"%s","account":"A","result":"success","method":"password","session":"s11b","ip":"153.1.4.9","device":"own","user_agent":"%s","country":"JP","channel":"web"}`, jstAt(11, 10, 4, 0), ua)
	order("next", "s11b", 5, 0, "7203", "sell", 500)
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
	// The reference takes the log in time order, without any history.
	want, _ := decideAll(t, mk(0), inTime)
	got, late := decideAll(t, mk(5*time.Minute), arrived)
	for _, ev := range arrived {
		if wantLate := ev.ID == "buyx" || ev.ID == "chk"; late[ev.ID] != wantLate {
			t.Errorf("%s: late %v, want %v", ev.ID, late[ev.ID], wantLate)
		}
	}
	// Every decision is as in time order: the late buy's, from the events before it only, and the
	// last sell's, from an account whose events were put back in order.
	for id, w := range want {
		if g := got[id]; !sameDecision(g, w) {
			t.Errorf("%s decided %s %d %v; in time order %s %d %v", id, g.Action, g.Score, g.Reasons, w.Action, w.Score, w.Reasons)
		}
	}

	// Without a lateness the engine takes events as they come: the difference this feature exists for.
	asCame, _ := decideAll(t, mk(0), arrived)
	if hasReason(want["chk"], "SESSION_UNKNOWN") || !hasReason(asCame["chk"], "SESSION_UNKNOWN") {
		t.Errorf("SESSION_UNKNOWN on the late buy: %v in time order, %v as it came; want only the latter",
			want["chk"].Reasons, asCame["chk"].Reasons)
	}
	if sameDecision(asCame["next"], want["next"]) {
		t.Errorf("the last sell is decided the same (%v) whichever order the account's events were applied in: the scenario tests nothing", want["next"].Reasons)
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
	checked, kept, stale := 0, 0, 0
	cut := last.Add(-lateness).UnixNano()
	for acct := range accounts {
		e.Accounts().Peek(acct, func(p *profile.Profile) {
			if p == nil || p.History == nil {
				return
			}
			h := p.History
			kept += len(h.Entries)
			if h.Newest() < cut {
				stale++
			}
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
	if dropped, kept := e.ForgetHistory(last); dropped != stale || kept != checked-stale {
		t.Errorf("at the newest event: dropped %d, kept %d; want %d, %d", dropped, kept, stale, checked-stale)
	}
	if dropped, kept := e.ForgetHistory(last.Add(lateness + time.Second)); dropped != checked-stale || kept != 0 {
		t.Errorf("past the lateness: dropped %d, kept %d; want %d, 0", dropped, kept, checked-stale)
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

// login adds a successful login of account A at at, in a session named after id, from device.
func (c *campaignDay) login(t *testing.T, id string, at time.Time, device string) {
	t.Helper()
	c.add(t, `{"id":"%s","type":"login","time":"%s","account":"A","result":"success","method":"password","session":"%s","ip":"153.1.4.9","device":"%s","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36","country":"JP","channel":"web"}`,
		id, at.Format(time.RFC3339Nano), id, device)
}

var lateBase = time.Date(2025, 4, 11, 9, 0, 0, 0, time.FixedZone("", 9*3600))

func lateEngine(t *testing.T, lateness time.Duration, campaign bool) *Engine {
	t.Helper()
	e, err := New(Options{Lateness: lateness, NoCampaign: !campaign})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestHistoryIsBounded gives one account more events than a history keeps, then one that arrives late
// among the kept ones, then one older than the kept ones: the history stays bounded, the first late
// event is placed, the second is refused (nothing applied), and the base with the kept events still
// gives the live profile.
func TestHistoryIsBounded(t *testing.T) {
	c := &campaignDay{}
	const n = profile.MaxHistory + 60
	for i := range n {
		c.login(t, fmt.Sprintf("l%d", i), lateBase.Add(time.Duration(i)*time.Second), "own")
	}
	e := lateEngine(t, time.Hour, false)
	decideAll(t, e, c.evs)
	var floor int64
	e.Accounts().Peek("A", func(p *profile.Profile) {
		if len(p.History.Entries) > profile.MaxHistory || p.History.Floor == 0 {
			t.Errorf("in order: history holds %d events (at most %d), floor %d", len(p.History.Entries), profile.MaxHistory, p.History.Floor)
		}
		floor = p.History.Floor
	})
	// 50 seconds late, from a device the account never used; then one from before the floor.
	late := &campaignDay{}
	late.login(t, "late", lateBase.Add((n-50)*time.Second+time.Second/2), "other")
	late.login(t, "too-late", time.Unix(0, floor-int64(time.Second)), "third")
	if out := e.Process(&late.evs[0]); !out.Late || out.Unplaced || !hasReason(out.Decision, "NEW_DEVICE") {
		t.Errorf("late login: late %v, unplaced %v, reasons %v; want placed, with NEW_DEVICE", out.Late, out.Unplaced, out.Decision.Reasons)
	}
	var before profile.Profile
	e.Accounts().Peek("A", func(p *profile.Profile) { before = p.Clone() })
	if out := e.Process(&late.evs[1]); !out.Unplaced || out.Decided {
		t.Errorf("login before the floor: unplaced %v, decided %v; want refused", out.Unplaced, out.Decided)
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
		live := p.Clone()
		if !reflect.DeepEqual(rebuilt, live) {
			t.Errorf("applied again from its history, the profile differs:\nrebuilt %+v\nlive    %+v", rebuilt, live)
		}
		if !reflect.DeepEqual(live, before) {
			t.Error("the refused login changed the profile")
		}
		if !p.Devices.Has(profile.Hash("other")) {
			t.Error("the late login's device was not learned")
		}
	})
}

// TestLateByTheWholeLateness places an event exactly the lateness behind the account's newest one:
// the events after it are still kept, so it is decided without them. One of them is a login from the
// same new device, which would make the device familiar if it were counted.
func TestLateByTheWholeLateness(t *testing.T) {
	const lateness = 5 * time.Minute
	c := &campaignDay{}
	for i := range 21 {
		device := "own"
		if i == 15 {
			device = "other"
		}
		c.login(t, fmt.Sprintf("l%d", i), lateBase.Add(time.Duration(i)*30*time.Second), device)
	}
	newest := c.evs[len(c.evs)-1].Time
	c.login(t, "late", newest.Add(-lateness), "other") // at 09:05:00, before l15 at 09:07:30
	inTime := slices.Clone(c.evs)
	slices.SortStableFunc(inTime, func(a, b event.Event) int { return a.Time.Compare(b.Time) })
	want, _ := decideAll(t, lateEngine(t, 0, false), inTime)
	got, late := decideAll(t, lateEngine(t, lateness, false), c.evs)
	if !late["late"] || !sameDecision(got["late"], want["late"]) || !hasReason(got["late"], "NEW_DEVICE") {
		t.Errorf("late login: late %v, decided %v; in time order %v", late["late"], got["late"].Reasons, want["late"].Reasons)
	}
}

// TestUnlockTakesEffectAfterTheEventsBeforeIt: an analyst's unlock takes effect after the account's
// events applied before it. A login arriving late from inside the lock is still blocked; one after the
// unlock is not. Replayed after a restart over events that came after it (a second report), the unlock
// goes back to its place: the second lock stands, and a late login between the two is let through.
func TestUnlockTakesEffectAfterTheEventsBeforeIt(t *testing.T) {
	report := func(c *campaignDay, id string, mm int) {
		c.add(t, `{"id":"%s","type":"fraud_report","time":"%s","account":"A","channel":"phone"}`, id, lateBase.Add(time.Duration(mm)*time.Minute).Format(time.RFC3339))
	}
	c := &campaignDay{}
	c.login(t, "l1", lateBase, "own")
	report(c, "fr1", 10)
	c.login(t, "l2", lateBase.Add(12*time.Minute), "own")
	e := lateEngine(t, 30*time.Minute, false)
	d, _ := decideAll(t, e, c.evs)
	if d["l2"].Action != event.ActionBlock {
		t.Fatalf("login after the report: %s, want block", d["l2"].Action)
	}
	var lock uint32
	var after int64
	e.Accounts().Peek("A", func(p *profile.Profile) { lock, after = p.LockedAt, p.AppliedUpTo() })
	e.Lift("A", lock, after)
	next := &campaignDay{}
	next.login(t, "l3", lateBase.Add(11*time.Minute), "own") // late, inside the lock
	next.login(t, "l4", lateBase.Add(13*time.Minute), "own")
	report(next, "fr2", 20)
	d, late := decideAll(t, e, next.evs)
	if !late["l3"] || d["l3"].Action != event.ActionBlock || d["l4"].Action == event.ActionBlock {
		t.Errorf("after the unlock: late l3 %v %s, l4 %s; want l3 blocked, l4 not", late["l3"], d["l3"].Action, d["l4"].Action)
	}

	// After a restart: the events come back first, then the audit trail's unlock.
	r := lateEngine(t, 30*time.Minute, false)
	all := append(slices.Clone(c.evs), next.evs...)
	decideAll(t, r, all)
	r.Lift("A", lock, after)
	locked := func(e *Engine) (l bool) {
		e.Accounts().Peek("A", func(p *profile.Profile) { l = p.Locked })
		return l
	}
	if !locked(e) || !locked(r) {
		t.Errorf("after the second report: locked %v live, %v after the restart; want both", locked(e), locked(r))
	}
	between := &campaignDay{}
	between.login(t, "l5", lateBase.Add(15*time.Minute), "own") // late: after the unlock, before fr2
	if d, _ := decideAll(t, r, between.evs); d["l5"].Action == event.ActionBlock {
		t.Errorf("a login between the unlock and the second report is blocked after the restart")
	}
	if !locked(r) {
		t.Error("the late login unlocked the account")
	}
}

// TestLateEventDoesNotSeeLaterWatchlist: a withdrawal that arrives after the account's own fraud report,
// which watched its payee, but happened before the report, is decided as in time order.
func TestLateEventDoesNotSeeLaterWatchlist(t *testing.T) {
	c := &campaignDay{}
	for d := 1; d <= 5; d++ {
		c.login(t, fmt.Sprintf("d%d", d), lateBase.Add(-time.Duration(d)*24*time.Hour), "own")
	}
	c.login(t, "l", lateBase, "own")
	withdraw := func(id string, mm int) {
		c.add(t, `{"id":"%s","type":"withdrawal","time":"%s","account":"A","session":"l","ip":"153.1.4.9","device":"own","amount":1000,"destination":"bankX"}`,
			id, lateBase.Add(time.Duration(mm)*time.Minute).Format(time.RFC3339))
	}
	withdraw("w1", 2)
	c.add(t, `{"id":"fr","type":"fraud_report","time":"%s","account":"A","channel":"phone"}`, lateBase.Add(4*time.Minute).Format(time.RFC3339))
	withdraw("w2", 3) // late
	inTime := slices.Clone(c.evs)
	slices.SortStableFunc(inTime, func(a, b event.Event) int { return a.Time.Compare(b.Time) })
	want, _ := decideAll(t, lateEngine(t, 0, true), inTime)
	got, late := decideAll(t, lateEngine(t, 5*time.Minute, true), c.evs)
	if !late["w2"] || !sameDecision(got["w2"], want["w2"]) || hasReason(got["w2"], "WATCHED_INFRASTRUCTURE") {
		t.Errorf("late withdrawal: late %v, %s %v; in time order %s %v", late["w2"], got["w2"].Action, got["w2"].Reasons, want["w2"].Action, want["w2"].Reasons)
	}
}

// TestEventBeforeFoldedEventsIsRefused: once the lateness has folded an account's events into the
// base, an event from before them cannot be placed (the service accepted it just before a request of
// the same account moved the clock on): it is refused, not decided on a base that holds later events.
func TestEventBeforeFoldedEventsIsRefused(t *testing.T) {
	c := &campaignDay{}
	c.login(t, "l0", lateBase, "own")
	c.login(t, "z", lateBase.Add(time.Minute), "other")
	c.login(t, "w", lateBase.Add(3*time.Minute), "own")
	c.login(t, "y", lateBase.Add(7*time.Minute), "own") // folds l0 and z, keeps w
	c.login(t, "x", lateBase.Add(30*time.Second), "other")
	e := lateEngine(t, 5*time.Minute, false)
	decideAll(t, e, c.evs[:4])
	var before profile.Profile
	e.Accounts().Peek("A", func(p *profile.Profile) { before = p.Clone() })
	if out := e.Process(&c.evs[4]); !out.Unplaced || out.Decided {
		t.Errorf("login before folded events: unplaced %v, decided %v %v; want refused", out.Unplaced, out.Decided, out.Decision.Reasons)
	}
	e.Accounts().Peek("A", func(p *profile.Profile) {
		if !reflect.DeepEqual(p.Clone(), before) {
			t.Error("the refused login changed the profile")
		}
	})
}

// TestUnlockAfterEverythingApplied: an unlock said to come after events that have not happened (an
// audit record that does not name its place) goes after the account's newest event, so that events
// arriving next are in order and let through.
func TestUnlockAfterEverythingApplied(t *testing.T) {
	c := &campaignDay{}
	c.login(t, "l1", lateBase, "own")
	c.add(t, `{"id":"fr","type":"fraud_report","time":"%s","account":"A","channel":"phone"}`, lateBase.Add(time.Minute).Format(time.RFC3339))
	e := lateEngine(t, 5*time.Minute, false)
	decideAll(t, e, c.evs)
	var lock uint32
	e.Accounts().Peek("A", func(p *profile.Profile) { lock = p.LockedAt })
	e.Lift("A", lock, math.MaxInt64)
	next := &campaignDay{}
	next.login(t, "l2", lateBase.Add(30*time.Minute), "own")
	if d, late := decideAll(t, e, next.evs); late["l2"] || d["l2"].Action == event.ActionBlock {
		t.Errorf("login after the unlock: late %v, %s; want in order, not blocked", late["l2"], d["l2"].Action)
	}
}

// TestEventNoLongerPlaceableIsAppliedAsItStands: an event that passed the check but whose place was
// folded away before the account's lock was taken (a request of the same account in between) has been
// seen by the cross-account state already: it is decided on the account's state as it stands, and the
// account keeps no history before it.
func TestEventNoLongerPlaceableIsAppliedAsItStands(t *testing.T) {
	c := &campaignDay{}
	c.login(t, "l1", lateBase, "own")
	c.login(t, "l2", lateBase.Add(time.Minute), "own")
	c.login(t, "x", lateBase.Add(30*time.Second), "other")
	e := lateEngine(t, 5*time.Minute, false)
	decideAll(t, e, c.evs[:2])
	var out Outcome
	e.Accounts().With("A", func(p *profile.Profile) {
		p.History.Floor = lateBase.Add(time.Minute).UnixNano() // as if folded since the check
		x := &c.evs[2]
		var rq request
		e.processInOrder(x, p, profile.Unix(x.Time), &rq, &out)
		if h := p.History; len(h.Entries) != 0 || h.Placeable(x.Time.UnixNano()) || !p.Devices.Has(profile.Hash("other")) {
			t.Errorf("after: %d entries kept, floor %d, device learned %v", len(h.Entries), h.Floor, p.Devices.Has(profile.Hash("other")))
		}
	})
	if out.Unplaced || !out.Decided || out.Late {
		t.Errorf("outcome: unplaced %v, decided %v, late %v; want decided as it stands", out.Unplaced, out.Decided, out.Late)
	}
}
