package detect

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
)

// campaignDay builds a pump on 2025-04-11 (JST) as the engine sees it: a thin stock (8012, 30,000
// shares a day at ¥200) whose market volume ramps from 09:40, victims whose sessions come from an
// anonymising network and a new device and who sell their holding then buy 8012, and a customer who
// built a large position in 8012 on two days before the ramp and sells into it.
type campaignDay struct {
	evs []event.Event
	n   int
}

func (c *campaignDay) add(t *testing.T, format string, args ...any) {
	t.Helper()
	c.n++
	raw := fmt.Sprintf(format, args...)
	ev, err := event.Decode([]byte(raw))
	if err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	c.evs = append(c.evs, ev)
}

// instruments lists the day's two instruments: 8012, thin (30,000 shares a day at ¥200), and 7203.
func (c *campaignDay) instruments(t *testing.T, day int) {
	t.Helper()
	c.add(t, `{"id":"i%d","type":"instrument","time":"%s","symbol":"8012","market":"growth","lot":100,"shares_outstanding":9000000,"prev_close":200,"avg_daily_volume":30000}`, day, jstAt(day, 8, 0, 0))
	c.add(t, `{"id":"j%d","type":"instrument","time":"%s","symbol":"7203","market":"prime","lot":100,"shares_outstanding":1500000000,"prev_close":3000,"avg_daily_volume":20000000}`, day, jstAt(day, 8, 0, 0))
}

func jstAt(day, hh, mm, ss int) string {
	return time.Date(2025, 4, day, hh, mm, ss, 0, time.FixedZone("", 9*3600)).Format(time.RFC3339)
}

func buildCampaign(t *testing.T) *campaignDay {
	c := &campaignDay{}
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36"
	for d := 7; d <= 11; d++ {
		c.instruments(t, d)
		if d == 7 {
			for _, a := range []string{"V1", "V2", "V3", "BEN", "OTHER"} {
				c.add(t, `{"id":"s-%s","type":"snapshot","time":"%s","account":"%s","cash":5000000,"holdings":[{"symbol":"7203","quantity":300,"cost":2500}],"opened":"2012-01-01","mfa":"sms_otp","notifications":true}`, a, jstAt(7, 8, 30, 0), a)
				c.add(t, `{"id":"l-%s","type":"login","time":"%s","account":"%s","result":"success","method":"password","session":"own-%s","ip":"153.1.%d.9","device":"own-%s","user_agent":"%s","country":"JP","channel":"web"}`,
					a, jstAt(7, 8, 40, 0), a, a, len(c.evs)%200, a, ua)
			}
		}
		c.add(t, `{"id":"qa%d","type":"quote","time":"%s","symbol":"8012","price":200,"volume":3000}`, d, jstAt(d, 9, 30, 0))
		c.add(t, `{"id":"qb%d","type":"quote","time":"%s","symbol":"7203","price":3000,"volume":500000}`, d, jstAt(d, 9, 30, 0))
		if d == 8 || d == 9 {
			// The beneficiary builds a position quietly, on two days.
			c.add(t, `{"id":"bo%d","type":"order","time":"%s","account":"BEN","order_id":"bo%d","session":"own-BEN","ip":"153.1.4.9","device":"own-BEN","symbol":"8012","side":"buy","quantity":10000,"price":200,"account_type":"cash","channel":"web"}`, d, jstAt(d, 10, 0, 0), d)
			c.add(t, `{"id":"bx%d","type":"execution","time":"%s","account":"BEN","order_id":"bo%d","exec_id":"bx%d","symbol":"8012","side":"buy","quantity":10000,"price":200,"fee":0}`, d, jstAt(d, 10, 0, 1), d, d)
		}
	}
	// Ramp day: 8012 trades 40 average days' worth by 09:50, up 6%.
	c.add(t, `{"id":"qr1","type":"quote","time":"%s","symbol":"8012","price":212,"volume":1200000}`, jstAt(11, 9, 50, 0))
	for i, v := range []string{"V1", "V2", "V3"} {
		m := 51 + 3*i
		c.add(t, `{"id":"al-%s","type":"login","time":"%s","account":"%s","result":"success","method":"password","session":"att-%s","ip":"45.76.9.%d","device":"att-dev","user_agent":"%s","country":"JP","channel":"web"}`,
			v, jstAt(11, 9, m, 0), v, v, 10+i, ua)
		c.add(t, `{"id":"as-%s","type":"order","time":"%s","account":"%s","order_id":"as-%s","session":"att-%s","ip":"45.76.9.%d","device":"att-dev","symbol":"7203","side":"sell","quantity":300,"account_type":"cash","channel":"web"}`,
			v, jstAt(11, 9, m, 20), v, v, v, 10+i)
		c.add(t, `{"id":"ax-%s","type":"execution","time":"%s","account":"%s","order_id":"as-%s","exec_id":"ax-%s","symbol":"7203","side":"sell","quantity":300,"price":3000,"fee":0}`,
			v, jstAt(11, 9, m, 21), v, v, v)
		c.add(t, `{"id":"ab-%s","type":"order","time":"%s","account":"%s","order_id":"ab-%s","session":"att-%s","ip":"45.76.9.%d","device":"att-dev","symbol":"8012","side":"buy","quantity":4000,"account_type":"cash","channel":"web"}`,
			v, jstAt(11, 9, m, 40), v, v, v, 10+i)
	}
	c.add(t, `{"id":"bs","type":"order","time":"%s","account":"BEN","order_id":"bs","session":"own-BEN","ip":"153.1.4.9","device":"own-BEN","symbol":"8012","side":"sell","quantity":20000,"price":215,"account_type":"cash","channel":"web"}`, jstAt(11, 10, 5, 0))
	c.add(t, `{"id":"fr","type":"fraud_report","time":"%s","account":"V1","channel":"phone"}`, jstAt(11, 18, 0, 0))
	// The day after: another account logs in from the device the crew used.
	c.add(t, `{"id":"ol","type":"login","time":"%s","account":"OTHER","result":"success","method":"password","session":"o2","ip":"153.1.77.9","device":"att-dev","user_agent":"%s","country":"JP","channel":"web"}`, jstAt(12, 9, 0, 0), ua)
	return c
}

func TestCampaignLayerEndToEnd(t *testing.T) {
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := buildCampaign(t)
	decisions := map[string]event.Decision{}
	var alerts []event.Alert
	for i := range c.evs {
		out := e.Process(&c.evs[i])
		if out.Decided {
			decisions[out.Decision.ID] = out.Decision
		}
		alerts = append(alerts, out.Alerts...)
	}
	byKind := map[string][]event.Alert{}
	for _, a := range alerts {
		byKind[a.Kind] = append(byKind[a.Kind], a)
	}
	camp := byKind[event.AlertCampaign]
	if len(camp) != 1 || !slices.Equal(camp[0].Symbols, []string{"8012"}) || camp[0].ID != "cmp-ab-V1" {
		t.Fatalf("campaign alerts = %+v", camp)
	}
	// The first victim's buy raised it; the later victims' buys of the watched symbol are held.
	for _, id := range []string{"ab-V2", "ab-V3"} {
		d := decisions[id]
		if d.Action < event.ActionHold || !hasReason(d, "WATCHED_SYMBOL") {
			t.Errorf("%s: %s %v, want a hold on the watched symbol", id, d.Action, d.Reasons)
		}
	}
	// While the campaign is under way, the later victims' sales from the crew's access are held.
	if d := decisions["as-V3"]; d.Action < event.ActionHold || !hasReason(d, "SELL_FROM_UNFAMILIAR_ACCESS_DURING_CAMPAIGN") {
		t.Errorf("as-V3 during the campaign: %s %v", d.Action, d.Reasons)
	}
	ben := byKind[event.AlertBeneficiary]
	if len(ben) != 1 || !slices.Equal(ben[0].Accounts, []string{"BEN"}) {
		t.Errorf("beneficiary alerts = %+v", ben)
	}
	// The fraud report raised its own alert, and the crew's device is watched: the other account's
	// login from it the next day is challenged.
	if !slices.ContainsFunc(byKind[event.AlertAccountTakeover], func(a event.Alert) bool { return a.ID == "rep-fr" }) {
		t.Error("no alert for the fraud report")
	}
	if d := decisions["ol"]; d.Action < event.ActionChallenge || !hasReason(d, "WATCHED_INFRASTRUCTURE") {
		t.Errorf("login from the crew's device: %s %v", d.Action, d.Reasons)
	}
	if cs := e.Campaign().Campaigns(c.evs[len(c.evs)-1].Time); len(cs) != 1 || len(cs[0].Victims) != 3 {
		t.Errorf("campaigns = %+v", cs)
	}

	// Without the layer: no campaign and no beneficiary alert.
	off, _ := New(Options{NoCampaign: true})
	var n int
	for i := range c.evs {
		out := off.Process(&c.evs[i])
		for _, a := range out.Alerts {
			if a.Kind == event.AlertCampaign || a.Kind == event.AlertBeneficiary {
				n++
			}
		}
	}
	if n != 0 {
		t.Errorf("%d campaign alerts with the layer off", n)
	}
}

func hasReason(d event.Decision, code string) bool {
	for _, r := range d.Reasons {
		if strings.Contains(r.Code, code) {
			return true
		}
	}
	return false
}

func TestFraudReportLockPeriod(t *testing.T) {
	c := &campaignDay{}
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36"
	login := func(id string, hh int) {
		c.add(t, `{"id":"%s","type":"login","time":"%s","account":"A","result":"success","method":"passkey","session":"%s","ip":"153.1.1.9","device":"own","user_agent":"%s","country":"JP","channel":"web"}`,
			id, jstAt(11, hh, 0, 0), id, ua)
	}
	login("l1", 8)
	c.add(t, `{"id":"fr","type":"fraud_report","time":"%s","account":"A","channel":"phone"}`, jstAt(11, 9, 0, 0))
	login("l2", 10)
	login("l3", 13)
	for _, tc := range []struct {
		lockFor time.Duration
		l2, l3  bool // blocked
	}{{0, true, true}, {3 * time.Hour, true, false}} {
		e, _ := New(Options{LockFor: tc.lockFor})
		blocked := map[string]bool{}
		for i := range c.evs {
			if out := e.Process(&c.evs[i]); out.Decided {
				blocked[out.Decision.ID] = out.Decision.Action == event.ActionBlock
			}
		}
		if blocked["l2"] != tc.l2 || blocked["l3"] != tc.l3 {
			t.Errorf("lock for %s: l2 blocked %v, l3 blocked %v; want %v, %v", tc.lockFor, blocked["l2"], blocked["l3"], tc.l2, tc.l3)
		}
	}
}

// TestIntruder: the signs of someone else at the keyboard, against a customer's own habits somewhere new.
func TestIntruder(t *testing.T) {
	cases := []struct {
		name string
		set  func(ss *Signals)
		want bool
	}{
		{"new network and new device", func(ss *Signals) { ss.Set(NewASN, 1, 0, 0, ""); ss.Set(NewDevice, 1, 0, 0, "") }, true},
		{"new network, no device id all session", func(ss *Signals) { ss.Set(NewCountry, 1, 0, 0, ""); ss.Set(NoDeviceID, 1, 1, 0, "") }, true},
		{"session moved to another TLS client", func(ss *Signals) { ss.Set(SessionTLSChanged, 1, 0, 0, "") }, true},
		{"watched infrastructure", func(ss *Signals) { ss.Set(WatchedInfrastructure, 1, 0, 0, "") }, true},
		{"a new phone on the home network", func(ss *Signals) { ss.Set(NewDevice, 1, 0, 0, "") }, false},
		{"own device abroad", func(ss *Signals) { ss.Set(NewCountry, 1, 0, 0, ""); ss.Set(NewASN, 1, 0, 0, "") }, false},
		{"household's shared device", func(ss *Signals) { ss.Set(DeviceShared, 1, 0, 0, "") }, false},
		{"home Wi-Fi to the carrier in a session", func(ss *Signals) { ss.Set(SessionNetworkChanged, 0.3, 0, 0, "") }, false},
		{"a new network and a login's missing device id carried over", func(ss *Signals) {
			ss.Set(NewASN, 1, 0, 0, "")
			ss.Strength[NoDeviceID], ss.Inherited = 1, 1<<NoDeviceID
		}, false},
	}
	for _, c := range cases {
		var ss Signals
		c.set(&ss)
		if got := intruder(&ss); got != c.want {
			t.Errorf("%s: intruder = %v, want %v", c.name, got, c.want)
		}
	}
}
