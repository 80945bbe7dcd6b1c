package ingest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/profile"
	"github.com/brokerguard/brokerguard/internal/store"
)

func TestServiceRejectsLateAndFutureEvents(t *testing.T) {
	st := openSQLite(t)
	now := time.Date(2025, 3, 17, 12, 0, 0, 0, time.UTC)
	svc := NewService(ServiceOptions{Engine: newEngine(t), Store: st,
		Timing: Timing{Lateness: 5 * time.Minute, Future: time.Minute, Now: func() time.Time { return now }}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	ev := func(id, at string) []byte {
		return []byte(`{"id":"` + id + `","type":"logout","time":"` + at + `","account":"A1","session":"s"}`)
	}
	res, err := svc.Ingest(ctx, [][]byte{
		ev("a", "2025-03-17T11:50:00Z"),
		ev("b", "2025-03-17T11:47:00Z"), // 3 minutes late: within the lateness
		ev("c", "2025-03-17T11:40:00Z"), // 10 minutes late
		ev("d", "2025-03-17T12:05:00Z"), // 5 minutes ahead of the clock
		ev("a", "2025-03-17T11:50:00Z"), // a repeat
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ status, code string }{{StatusAccepted, ""}, {StatusAccepted, ""}, {StatusRejected, "too_late"},
		{StatusRejected, "in_future"}, {StatusDuplicate, ""}}
	for i, w := range want {
		code := ""
		if res[i].Error != nil {
			code = res[i].Error.Code
		}
		if res[i].Status != w.status || code != w.code {
			t.Errorf("event %d: got %s %s, want %s %s", i, res[i].Status, code, w.status, w.code)
		}
	}
	c, _ := st.Counts(context.Background())
	if c.Events != 2 {
		t.Errorf("stored %d events, want the 2 accepted", c.Events)
	}
}

// TestServiceLateEventsConcurrently sends events of a few accounts from several clients at once, each
// client's events up to a minute out of time order, while the service forgets old histories: every
// event is accepted and decided once, and the late ones are counted. Run with -race.
func TestServiceLateEventsConcurrently(t *testing.T) {
	st := openSQLite(t)
	eng := newEngineLate(t, 5*time.Minute)
	m := NewMetrics(nil)
	svc := NewService(ServiceOptions{Engine: eng, Store: st, Metrics: m,
		Timing: Timing{Lateness: 5 * time.Minute, Future: time.Hour, Now: time.Now}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	base := time.Date(2025, 3, 17, 10, 0, 0, 0, time.FixedZone("", 9*3600))
	const clients, each = 4, 150
	var wg sync.WaitGroup
	errs := make(chan string, clients*each)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Times run forward with the index, each one jittered back by up to 50 s.
				at := base.Add(time.Duration(i)*time.Second - time.Duration((i*7919+c*104729)%50)*time.Second)
				acct := fmt.Sprintf("A%d", i%5)
				raw := fmt.Sprintf(`{"id":"c%d-%d","type":"login","time":"%s","account":"%s","result":"success","method":"password","session":"s%d-%d","ip":"153.1.%d.9","device":"d%d"}`,
					c, i, at.Format(time.RFC3339), acct, c, i, i%5, i%5)
				if i%3 == 0 {
					raw = fmt.Sprintf(`{"id":"c%d-%d","type":"login","time":"%s","account":"%s","result":"failure","failure":"bad_password","method":"password","ip":"153.1.%d.9"}`,
						c, i, at.Format(time.RFC3339), acct, i%5)
				}
				res, err := svc.Ingest(ctx, [][]byte{[]byte(raw)})
				if err != nil {
					errs <- err.Error()
					return
				}
				if r := res[0]; r.Status != StatusDecided && r.Status != StatusAccepted {
					errs <- fmt.Sprintf("%s: %s %v", r.ID, r.Status, r.Error)
				}
				if i%40 == 0 {
					svc.forgetHistory()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	c, _ := st.Counts(context.Background())
	if c.Events != clients*each {
		t.Errorf("stored %d events, want %d", c.Events, clients*each)
	}
	var late dto.Metric
	if err := m.late.Write(&late); err != nil || late.GetCounter().GetValue() == 0 {
		t.Errorf("no event counted as late (%v)", err)
	}
}

// TestRebuildKeepsOnlyRecentHistories restarts a service on a store holding three accounts' events an
// hour apart: after the rebuild, only the account active within the lateness of the newest event keeps
// a history for late events.
func TestRebuildKeepsOnlyRecentHistories(t *testing.T) {
	st := openSQLite(t)
	start := func() (*Service, *detect.Engine, func()) {
		eng := newEngineLate(t, 5*time.Minute)
		svc := NewService(ServiceOptions{Engine: eng, Store: st,
			Timing: Timing{Lateness: 5 * time.Minute, Future: time.Hour, Now: time.Now}})
		if _, err := svc.Rebuild(context.Background()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { svc.Run(ctx); close(done) }()
		return svc, eng, func() { cancel(); <-done }
	}
	svc, _, stop := start()
	var raws [][]byte
	for i, acct := range []string{"A", "B", "C"} {
		at := time.Date(2025, 3, 17, 9+i, 0, 0, 0, time.UTC).Format(time.RFC3339)
		raws = append(raws, []byte(fmt.Sprintf(`{"id":"%s","type":"login","time":"%s","account":"%s","result":"success","method":"password","session":"s","ip":"153.1.4.9"}`, acct, at, acct)))
	}
	if _, err := svc.Ingest(context.Background(), raws); err != nil {
		t.Fatal(err)
	}
	stop()
	_, eng, stop := start()
	defer stop()
	if dropped, kept := eng.ForgetHistory(time.Date(2025, 3, 17, 11, 0, 0, 0, time.UTC)); dropped != 0 || kept != 1 {
		t.Errorf("after the rebuild %d histories were still to drop and %d kept; want 0 and 1", dropped, kept)
	}
}

// TestRebuildAppliesEveryStoredEvent: a fraud report committed after more than a history's worth of
// the account's later events (two requests committed the other way round from how they were placed)
// is still applied when the service rebuilds: the account is locked after a restart as it was before.
func TestRebuildAppliesEveryStoredEvent(t *testing.T) {
	st := openSQLite(t)
	base := time.Date(2025, 3, 17, 9, 0, 0, 0, time.UTC)
	var b store.Batch
	for i := 1; i <= 300; i++ {
		id, at := fmt.Sprintf("l%d", i), base.Add(time.Duration(i)*time.Second)
		raw := fmt.Sprintf(`{"id":"%s","type":"login","time":"%s","account":"A","result":"success","method":"password","session":"%s","ip":"153.1.4.9","device":"own"}`, id, at.Format(time.RFC3339), id)
		b.Events = append(b.Events, store.EventRecord{ID: id, Account: "A", Type: "login", Time: at, Raw: []byte(raw)})
	}
	fr := fmt.Sprintf(`{"id":"fr","type":"fraud_report","time":"%s","account":"A","channel":"phone"}`, base.Format(time.RFC3339))
	b.Events = append(b.Events, store.EventRecord{ID: "fr", Account: "A", Type: "fraud_report", Time: base, Raw: []byte(fr)})
	if err := st.Append(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	eng := newEngineLate(t, 5*time.Minute)
	svc := NewService(ServiceOptions{Engine: eng, Store: st, Timing: Timing{Lateness: 5 * time.Minute, Future: time.Hour, Now: time.Now}})
	if n, err := svc.Rebuild(context.Background()); err != nil || n != 301 {
		t.Fatalf("rebuilt %d events: %v", n, err)
	}
	eng.Accounts().Peek("A", func(p *profile.Profile) {
		if !p.Locked {
			t.Error("after the rebuild the reported account is not locked")
		}
	})
}
