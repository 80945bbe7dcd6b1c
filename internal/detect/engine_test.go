package detect

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/rules"
)

// synthetic returns a deterministic stream of decoded events: instruments, quotes, snapshots, and for
// each account logins, orders with executions, and now and then a withdrawal.
func synthetic(accounts, perAccount int, seed uint64) []event.Event {
	r := rand.New(rand.NewPCG(seed, 1))
	var raws []string
	base := time.Date(2025, 3, 3, 9, 0, 0, 0, time.FixedZone("", 9*3600))
	syms := []string{"7203", "6758", "9984", "8306", "7992", "3350", "2303", "4425"}
	for i, s := range syms {
		raws = append(raws, fmt.Sprintf(`{"id":"i%d","type":"instrument","time":"%s","symbol":"%s","market":"prime","lot":100,"shares_outstanding":%d,"prev_close":%d,"avg_daily_volume":%d}`,
			i, base.Format(time.RFC3339), s, 20000000*(i+1)*(i%4+1), 100+i*300, 50000*(i+1)))
	}
	for a := 0; a < accounts; a++ {
		raws = append(raws, fmt.Sprintf(`{"id":"s%d","type":"snapshot","time":"%s","account":"A%d","cash":%d,"holdings":[{"symbol":"%s","quantity":%d,"cost":1000}],"mfa":"sms_otp","notifications":true}`,
			a, base.Format(time.RFC3339), a, 100000+r.IntN(1000000), syms[r.IntN(4)], 100*(1+r.IntN(20))))
	}
	t := base
	n := 0
	for k := 0; k < perAccount; k++ {
		for a := 0; a < accounts; a++ {
			t = t.Add(time.Millisecond * time.Duration(1+r.IntN(3)))
			ts := t.Format(time.RFC3339Nano)
			ip := fmt.Sprintf("153.%d.%d.%d", 150+a%6, a%250, 1+a%200)
			if r.IntN(20) == 0 {
				ip = fmt.Sprintf("45.76.%d.%d", r.IntN(250), 1+r.IntN(250))
			}
			n++
			switch k % 4 {
			case 0:
				raws = append(raws, fmt.Sprintf(`{"id":"e%d","type":"login","time":"%s","account":"A%d","result":"success","method":"password_otp","session":"s%d-%d","ip":"%s","device":"d%d","user_agent":"Mozilla/5.0 (Windows NT 10.0) Chrome/134.0 Safari/537.36","tls":"t13d1516h2_%d","country":"JP","channel":"web"}`,
					n, ts, a, a, k/4, ip, a, a%7))
			case 1:
				raws = append(raws, fmt.Sprintf(`{"id":"q%d","type":"quote","time":"%s","symbol":"%s","price":%d,"volume":%d}`, n, ts, syms[r.IntN(len(syms))], 100+r.IntN(3000), r.IntN(100000)))
			case 2:
				side := []string{"buy", "sell"}[r.IntN(2)]
				sym := syms[r.IntN(len(syms))]
				raws = append(raws, fmt.Sprintf(`{"id":"e%d","type":"order","time":"%s","account":"A%d","order_id":"o%d","session":"s%d-%d","ip":"%s","device":"d%d","tls":"t13d1516h2_%d","symbol":"%s","side":"%s","quantity":%d,"account_type":"cash","channel":"web"}`,
					n, ts, a, n, a, k/4, ip, a, a%7, sym, side, 100*(1+r.IntN(10))))
				raws = append(raws, fmt.Sprintf(`{"id":"x%d","type":"execution","time":"%s","account":"A%d","order_id":"o%d","exec_id":"x%d","symbol":"%s","side":"%s","quantity":100,"price":%d,"fee":0}`,
					n, t.Add(time.Millisecond).Format(time.RFC3339Nano), a, n, n, sym, side, 100+r.IntN(3000)))
			case 3:
				raws = append(raws, fmt.Sprintf(`{"id":"e%d","type":"withdrawal","time":"%s","account":"A%d","session":"s%d-%d","ip":"%s","device":"d%d","amount":%d,"destination":"bank-%d"}`,
					n, ts, a, a, k/4, ip, a, 1000+r.IntN(100000), a%1000))
			}
		}
	}
	evs := make([]event.Event, 0, len(raws))
	for _, s := range raws {
		ev, err := event.Decode([]byte(s))
		if err != nil {
			panic(fmt.Sprintf("%v: %s", err, s))
		}
		evs = append(evs, ev)
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	return evs
}

func TestDeterministic(t *testing.T) {
	evs := synthetic(300, 12, 7)
	run := func() []byte {
		e, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		var out []byte
		for i := range evs {
			o := e.Process(&evs[i])
			if o.Decided {
				out = event.AppendDecision(out, &o.Decision)
				out = append(out, '\n')
			}
			for _, a := range o.Alerts {
				out = event.AppendAlert(out, &a)
			}
		}
		return out
	}
	a, b := run(), run()
	if len(a) == 0 || string(a) != string(b) {
		t.Fatalf("two runs differ (%d and %d bytes)", len(a), len(b))
	}
}

func TestModelAndRulesShipValid(t *testing.T) {
	m := DefaultModel()
	for _, s := range []Signal{NewDevice, Liquidation, IlliquidSymbol, SessionNetworkChanged} {
		if m.Weight(s) <= 0 {
			t.Errorf("signal %s has weight %v, want > 0", s, m.Weight(s))
		}
	}
	if rules.Default().Len() == 0 {
		t.Error("default rule pack is empty")
	}
}

func TestModelErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown signal", "version: x\nweights: {NOPE: 1}\n", `unknown signal "NOPE"`},
		{"unknown type", "version: x\nbias: {trade: 1}\n", `unknown event type "trade"`},
		{"no version", "weights: {NEW_DEVICE: 1}\n", "version: required"},
		{"unknown key", "version: x\nweight: {}\n", "field weight not found"},
		{"interaction without b", "version: x\ninteractions: [{code: X, a: [NEW_DEVICE], weight: 1}]\n", "b: at least one signal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseModel([]byte(tt.yaml), "m.yaml")
			if err == nil || !contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestThresholdsValidate(t *testing.T) {
	th := DefaultThresholds()
	if err := th.Validate(); err != nil {
		t.Fatal(err)
	}
	th.Order = []Step{{event.ActionHold, 500}, {event.ActionReview, 600}}
	if err := th.Validate(); err == nil {
		t.Error("a ladder whose action falls was accepted")
	}
}

// BenchmarkProcess measures the engine alone on a mixed stream (logins, quotes, orders, executions,
// withdrawals) over 20,000 accounts.
func BenchmarkProcess(b *testing.B) {
	evs := synthetic(5000, 8, 1)
	e, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Process(&evs[i%len(evs)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSnapshotMemory loads 1,000,000 account snapshots and reports the heap per account.
func BenchmarkSnapshotMemory(b *testing.B) {
	for i := 0; i < b.N; i++ {
		const n = 1_000_000
		e, _ := New(Options{})
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		base := time.Date(2025, 3, 3, 8, 0, 0, 0, time.FixedZone("", 9*3600))
		for a := 0; a < n; a++ {
			ev := event.Event{ID: "s", Type: event.TypeSnapshot, Time: base, Account: fmt.Sprintf("A%07d", a), Cash: 1e6,
				Holdings: []event.Holding{{Symbol: "7203", Quantity: 100, Cost: 2000}, {Symbol: "9984", Quantity: 200, Cost: 7000}},
				MFA:      "sms_otp", Notifications: true, Opened: "2015-04-01"}
			e.Process(&ev)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-bytes/account")
		runtime.KeepAlive(e)
	}
}

func TestDetailsReadWellWhenInherited(t *testing.T) {
	var ss Signals
	for s := Signal(0); s < NumSignals; s++ {
		ss.Strength[s] = 0.6
		ss.Inherited |= 1 << s
	}
	for s := Signal(0); s < NumSignals; s++ {
		d := ss.Detail(s)
		if d == "" || contains(d, "  ") || contains(d, "()") || d[len(d)-1] == ' ' {
			t.Errorf("%s: detail %q", s, d)
		}
	}
}
