package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/store"
)

// TestNoBusyUnderReadsAndCheckpoints appends large batches while the read pool is hammered by queries
// and by read transactions that hold their snapshot for a while (as a slow API query does), with
// checkpoints every few milliseconds and a WAL limit small enough that most of them are TRUNCATE
// checkpoints. The busy timeout is 10 ms: no connection of the Store may ever hold a lock that its
// writer waits for, so no Append and no query may fail, however short the timeout.
func TestNoBusyUnderReadsAndCheckpoints(t *testing.T) {
	defer func(d time.Duration) { checkpointInterval = d }(checkpointInterval)
	checkpointInterval = 2 * time.Millisecond
	path := filepath.Join(t.TempDir(), "busy.db")
	s, err := Open(t.Context(), path, Options{BusyTimeout: 10 * time.Millisecond, WALLimit: 512 << 10, ReadConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	ctx, stop := context.WithCancel(t.Context())
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
		reads int
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if len(errs) < 10 {
			errs = append(errs, err)
		}
	}
	readers := []func() error{
		func() error { _, err := s.Counts(ctx); return err },
		func() error {
			_, err := s.Decisions(ctx, store.DecisionQuery{Account: "A7", Limit: 50})
			return err
		},
		func() error { _, err := s.EventsHeld(ctx, []string{"b0-00001", "b3-01999", "none"}); return err },
		// A read transaction that keeps its snapshot while the writer commits and checkpoints run.
		func() error {
			tx, err := s.read.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil {
				return err
			}
			time.Sleep(15 * time.Millisecond)
			return tx.QueryRowContext(ctx, "SELECT count(*) FROM events WHERE account = 'A3'").Scan(&n)
		},
	}
	for _, read := range readers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := read(); err != nil && ctx.Err() == nil {
					fail(fmt.Errorf("read: %w", err))
					return
				}
				mu.Lock()
				reads++
				mu.Unlock()
			}
		})
	}

	raw := `{"id":"%s","type":"login","time":"2025-03-17T09:00:01+09:00","account":"%s","ip":"203.0.113.7","pad":"` + strings.Repeat("x", 300) + `"}`
	base := time.Date(2025, 3, 17, 9, 0, 0, 0, time.FixedZone("", 9*3600))
	const batches, size = 20, 1500
	for i := range batches {
		b := &store.Batch{}
		for j := range size {
			id, acct := fmt.Sprintf("b%d-%05d", i, j), fmt.Sprintf("A%d", j%97)
			b.Events = append(b.Events, store.EventRecord{ID: id, Account: acct, Type: "login",
				Time: base.Add(time.Duration(i*size+j) * time.Millisecond), Raw: fmt.Appendf(nil, raw, id, acct)})
		}
		if err := s.Append(t.Context(), b); err != nil {
			fail(fmt.Errorf("append of batch %d: %w", i, err))
			break
		}
		if err := s.Ping(t.Context()); err != nil {
			fail(fmt.Errorf("ping after batch %d: %w", i, err))
		}
	}
	stop()
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if reads < 50 {
		t.Errorf("got %d reads during the appends, want at least 50", reads)
	}
	if n := s.ckpt.runs.Load(); n < 10 {
		t.Errorf("got %d checkpoints during the appends, want at least 10", n)
	}
	c, err := s.Counts(t.Context())
	if err != nil || c.Events != batches*size {
		t.Errorf("events stored: got %d, %v; want %d", c.Events, err, batches*size)
	}
	if errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Counts: %v", err)
	}
}
