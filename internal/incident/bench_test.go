package incident

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

// benchStore is a SQLite store of n events: 20,000 accounts logging in, trading and being filled, and
// the market's quotes, with one victim account ("VICTIM") whose 120 events (40 logins, orders and fills) are spread through the log.
func benchStore(b *testing.B, n int) store.Store {
	b.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	t0 := time.Date(2025, 4, 7, 9, 0, 0, 0, time.FixedZone("", 9*3600))
	const accounts = 20000
	victimEvery := n / 40
	var batch store.Batch
	for i := range n {
		tm := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		ts := tm.Format(time.RFC3339Nano)
		id := "e" + strconv.Itoa(i)
		acct := "A" + strconv.Itoa(i%accounts)
		if (i/4)%(victimEvery/4) == 0 {
			acct = "VICTIM"
		}
		var raw string
		typ := []string{"login", "order", "execution", "quote"}[i%4]
		switch typ {
		case "login":
			raw = fmt.Sprintf(`{"id":%q,"type":"login","time":%q,"account":%q,"result":"success","method":"password","session":"s%d","ip":"203.0.113.9"}`, id, ts, acct, i/4)
		case "order":
			raw = fmt.Sprintf(`{"id":%q,"type":"order","time":%q,"account":%q,"order_id":"o%d","session":"s%d","ip":"203.0.113.9","symbol":"7203","side":"buy","quantity":100,"account_type":"cash"}`, id, ts, acct, i/4, i/4)
		case "execution":
			raw = fmt.Sprintf(`{"id":%q,"type":"execution","time":%q,"account":%q,"order_id":"o%d","exec_id":"x%d","symbol":"7203","side":"buy","quantity":100,"price":2500,"fee":50}`, id, ts, acct, i/4, i)
		default:
			acct = ""
			raw = fmt.Sprintf(`{"id":%q,"type":"quote","time":%q,"symbol":"7203","price":2500,"volume":100}`, id, ts)
		}
		batch.Events = append(batch.Events, store.EventRecord{ID: id, Account: acct, Type: typ, Time: tm, Raw: []byte(raw)})
		if len(batch.Events) == 5000 || i == n-1 {
			if err := st.Append(ctx, &batch); err != nil {
				b.Fatal(err)
			}
			batch = store.Batch{}
		}
	}
	return st
}

// BenchmarkReconstructOneIncident reconstructs one incident of the victim account on stores of
// growing size: through the account's own events (the register's way) its cost stays that of the
// account's history; through the whole log (what valuation still reads for the market's prices) it
// grows with the log. BROKERGUARD_BENCH_EVENTS adds a size (e.g. 2400000).
func BenchmarkReconstructOneIncident(b *testing.B) {
	sizes := []int{24000, 240000}
	if v, err := strconv.Atoi(os.Getenv("BROKERGUARD_BENCH_EVENTS")); err == nil && v > 0 {
		sizes = append(sizes, v)
	}
	for _, n := range sizes {
		st := benchStore(b, n)
		trail := audit.New(audit.Options{Store: st, Wall: time.Now})
		reg := New(Options{Store: st, Trail: trail})
		var orders []string
		victimEvery := n / 40
		for i := 1; i < n; i += 4 {
			if (i/4)%(victimEvery/4) == 0 {
				orders = append(orders, "o"+strconv.Itoa(i/4))
			}
		}
		inc := Incident{ID: "inc-bench", Account: "VICTIM", Orders: orders}
		for _, way := range []struct {
			name   string
			market bool
		}{{"account", false}, {"wholelog", true}} {
			b.Run(fmt.Sprintf("events=%d/%s", n, way.name), func(b *testing.B) {
				for b.Loop() {
					rec, _, err := reg.reconstruct(context.Background(), &inc, way.market)
					if err != nil {
						b.Fatal(err)
					}
					if len(rec.Orders) != len(orders) {
						b.Fatalf("reconstructed %d orders, want %d", len(rec.Orders), len(orders))
					}
				}
			})
		}
	}
}
