package storetest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/store"
)

// Shape of a replay batch: what the pipeline hands Append at a time.
const (
	BenchBatchEvents    = 4000
	BenchBatchDecisions = 1500
	benchPrefill        = 25 // batches stored before timing, so indexes are not trivially small
)

// BenchmarkAppend measures Append of replay-sized batches: 4,000 events of about 330 bytes and 1,500
// decisions with about 120 bytes of reasons each. One iteration is one batch; it reports events/s.
// It runs twice, on a new store from open each time: with event ids that grow in the order the events
// come (as counters and time-ordered ids do), and with random ones (as UUIDv4s are), whose index takes
// every insert at a random place.
func BenchmarkAppend(b *testing.B, open func(b *testing.B) store.Store) {
	for _, ids := range []struct {
		name   string
		random bool
	}{{"ids=ordered", false}, {"ids=random", true}} {
		b.Run(ids.name, func(b *testing.B) {
			s := open(b)
			defer s.Close()
			benchAppend(b, s, ids.random)
		})
	}
}

func benchAppend(b *testing.B, s store.Store, randomIDs bool) {
	ctx := b.Context()
	c, err := s.Counts(ctx)
	if err != nil {
		b.Fatalf("Counts: %v", err)
	}
	// The benchmark function may run more than once on the same store; each run continues the ids.
	g := newBatchGen(uint64(c.Events)+1, int(c.Events), randomIDs)
	if c.Events == 0 {
		for range benchPrefill {
			if err := s.Append(ctx, g.next()); err != nil {
				b.Fatalf("Append: %v", err)
			}
		}
	}
	batches := make([]*store.Batch, b.N)
	for i := range batches {
		batches[i] = g.next()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.Append(ctx, batches[i]); err != nil {
			b.Fatalf("Append: %v", err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*BenchBatchEvents)/b.Elapsed().Seconds(), "events/s")
}

// batchGen makes replay-like batches: orders, logins and quotes of a few thousand accounts.
type batchGen struct {
	rng       *rand.Rand
	n         int
	t         time.Time
	randomIDs bool
}

func newBatchGen(seed uint64, n int, randomIDs bool) *batchGen {
	return &batchGen{rng: rand.New(rand.NewPCG(seed, seed)), n: n, t: base.Add(time.Duration(n) * 17 * time.Millisecond), randomIDs: randomIDs}
}

func (g *batchGen) next() *store.Batch {
	b := &store.Batch{
		Events:    make([]store.EventRecord, 0, BenchBatchEvents),
		Decisions: make([]event.Decision, 0, BenchBatchDecisions),
	}
	for i := range BenchBatchEvents {
		g.n++
		g.t = g.t.Add(17 * time.Millisecond)
		id := fmt.Sprintf("ev-%012d", g.n)
		if g.randomIDs {
			id = fmt.Sprintf("%016x%016x", g.rng.Uint64(), g.rng.Uint64())
		}
		acct := fmt.Sprintf("A%06d", g.rng.IntN(5000))
		raw := fmt.Appendf(nil, `{"id":%q,"type":"order","time":%q,"account":%q,"order_id":"o-%d","session":"s-%x",`+
			`"ip":"203.0.113.%d","device":"d-%x","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)",`+
			`"symbol":"%04d","side":"buy","quantity":%d,"price":%d.5,"account_type":"cash","channel":"web"}`,
			id, g.t.Format(time.RFC3339Nano), acct, g.n, g.rng.Uint32(), g.rng.IntN(256), g.rng.Uint32(),
			1300+g.rng.IntN(8000), 100*(1+g.rng.IntN(50)), 100+g.rng.IntN(9000))
		b.Events = append(b.Events, store.EventRecord{ID: id, Account: acct, Type: "order", Time: g.t, Raw: raw})
		if i%8 < 3 && len(b.Decisions) < BenchBatchDecisions {
			b.Decisions = append(b.Decisions, event.Decision{ID: id, Account: acct, Type: "order",
				Action: event.Actions()[g.rng.IntN(5)], Score: g.rng.IntN(1001), Time: g.t,
				Reasons: []event.Reason{
					{Code: "NEW_DEVICE_ORDER", Detail: "device first seen 2 min ago"},
					{Code: "ILLIQUID_BUY", Detail: fmt.Sprintf("buy %d = %dx ADV share", 1300+g.rng.IntN(8000), g.rng.IntN(50))},
				}})
		}
	}
	return b
}
