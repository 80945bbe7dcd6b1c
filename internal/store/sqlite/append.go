package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"

	"github.com/brokerguard/brokerguard/internal/store"
)

// Rows are inserted by multi-row INSERT statements of a power-of-two number of rows, maxRows at most:
// a batch of n rows takes n/maxRows full statements and one statement per set bit of the remainder, all
// prepared once at Open.
const (
	maxRowsShift = 8
	maxRows      = 1 << maxRowsShift
)

// sizedInsert is one INSERT statement prepared for 1, 2, 4, … maxRows rows.
type sizedInsert struct {
	stmts [maxRowsShift + 1]driverStmt // stmts[k] inserts 1<<k rows
}

// driverStmt is a statement of the driver itself. The write path binds its arguments directly: through
// database/sql every argument of every row would be checked and copied once more.
type driverStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

func prepare(ctx context.Context, dc driver.Conn, query string) (driverStmt, error) {
	pc, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, errors.New("driver connection cannot prepare with a context")
	}
	st, err := pc.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	ds, ok := st.(driverStmt)
	if !ok {
		st.Close()
		return nil, errors.New("driver statement cannot execute with a context")
	}
	return ds, nil
}

func prepareSized(ctx context.Context, dc driver.Conn, head string, cols int) (*sizedInsert, error) {
	si := &sizedInsert{}
	row := "(?" + strings.Repeat(",?", cols-1) + ")"
	for k := range si.stmts {
		n := 1 << k
		var b strings.Builder
		b.Grow(len(head) + n*(len(row)+1))
		b.WriteString(head)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(row)
		}
		st, err := prepare(ctx, dc, b.String())
		if err != nil {
			si.close()
			return nil, err
		}
		si.stmts[k] = st
	}
	return si, nil
}

func (si *sizedInsert) close() {
	for _, st := range si.stmts {
		if st != nil {
			st.Close()
		}
	}
}

// args collects the arguments of one statement, reusing its storage.
type args []driver.NamedValue

func (a *args) add(vs ...driver.Value) {
	for _, v := range vs {
		*a = append(*a, driver.NamedValue{Ordinal: len(*a) + 1, Value: v})
	}
}

// exec inserts n rows whose arguments row(i, a) adds, and returns how many were inserted (rows whose key
// is already stored are ignored).
func (si *sizedInsert) exec(ctx context.Context, a *args, n int, row func(i int, a *args) error) (int64, error) {
	var inserted int64
	for done := 0; done < n; {
		k := maxRowsShift
		if rest := n - done; rest < maxRows {
			k = bits.Len(uint(rest)) - 1
		}
		size := 1 << k
		*a = (*a)[:0]
		for i := done; i < done+size; i++ {
			if err := row(i, a); err != nil {
				return inserted, err
			}
		}
		res, err := si.stmts[k].ExecContext(ctx, *a)
		if err != nil {
			return inserted, err
		}
		ra, err := res.RowsAffected()
		if err != nil {
			return inserted, err
		}
		inserted += ra
		done += size
	}
	return inserted, nil
}

// inserts are the write statements, prepared on the write connection.
type inserts struct {
	events, decisions, shadows *sizedInsert
	idKeys                     *sizedInsert
	alert, alertAccount        driverStmt
	alertSymbol, counts        driverStmt
	through, probe             driverStmt
	eventIDAt, decisionIDAt    driverStmt
	begin, commit, rollback    driverStmt
}

func prepareInserts(ctx context.Context, dc driver.Conn) (_ *inserts, err error) {
	ins := &inserts{}
	defer func() {
		if err != nil {
			ins.close()
		}
	}()
	if ins.events, err = prepareSized(ctx, dc,
		"INSERT INTO events (seq, id, account, type, time_ns, tz_offset, raw) VALUES ", 7); err != nil {
		return nil, err
	}
	if ins.decisions, err = prepareSized(ctx, dc,
		"INSERT INTO decisions (seq, event_id, account, type, action, score, reasons, time_ns, tz_offset) VALUES ", 9); err != nil {
		return nil, err
	}
	if ins.idKeys, err = prepareSized(ctx, dc, "INSERT OR IGNORE INTO id_keys (kind, run, h, seq) VALUES ", 4); err != nil {
		return nil, err
	}
	if ins.shadows, err = prepareSized(ctx, dc,
		"INSERT OR IGNORE INTO shadow_decisions (rule_set, event_id, account, type, action, score, reasons, time_ns, tz_offset) VALUES ", 9); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		st *driverStmt
		q  string
	}{
		{&ins.alert, `INSERT INTO alerts (id, kind, time_ns, tz_offset, score, reasons, symbols, accounts)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING seq`},
		{&ins.alertAccount, "INSERT OR IGNORE INTO alert_accounts (account, alert_seq) VALUES (?, ?)"},
		{&ins.alertSymbol, "INSERT OR IGNORE INTO alert_symbols (symbol, alert_seq) VALUES (?, ?)"},
		// ?5/?6 and ?7/?8 are the earliest and the latest event of the batch (NULL without events):
		// events the batch repeats lie within the stored range already.
		{&ins.counts, `UPDATE counts SET events = events + ?1, decisions = decisions + ?2,
			shadow_decisions = shadow_decisions + ?3, alerts = alerts + ?4,
			first_off = CASE WHEN ?5 IS NOT NULL AND (first_ns IS NULL OR ?5 < first_ns) THEN ?6 ELSE first_off END,
			first_ns  = CASE WHEN ?5 IS NOT NULL AND (first_ns IS NULL OR ?5 < first_ns) THEN ?5 ELSE first_ns END,
			last_off  = CASE WHEN ?7 IS NOT NULL AND (last_ns IS NULL OR ?7 > last_ns) THEN ?8 ELSE last_off END,
			last_ns   = CASE WHEN ?7 IS NOT NULL AND (last_ns IS NULL OR ?7 > last_ns) THEN ?7 ELSE last_ns END`},
		{&ins.through, "UPDATE id_keys_through SET seq = ?1 WHERE kind = ?2"},
		{&ins.probe, "SELECT seq FROM id_keys WHERE kind = ?1 AND run = ?2 AND h = ?3"},
		{&ins.eventIDAt, "SELECT id FROM events WHERE seq = ?"},
		{&ins.decisionIDAt, "SELECT event_id FROM decisions WHERE seq = ?"},
		{&ins.begin, "BEGIN IMMEDIATE"},
		{&ins.commit, "COMMIT"},
		{&ins.rollback, "ROLLBACK"},
	} {
		if *p.st, err = prepare(ctx, dc, p.q); err != nil {
			return nil, err
		}
	}
	return ins, nil
}

func (ins *inserts) close() {
	for _, si := range []*sizedInsert{ins.events, ins.decisions, ins.shadows, ins.idKeys} {
		if si != nil {
			si.close()
		}
	}
	for _, st := range []driverStmt{ins.alert, ins.alertAccount, ins.alertSymbol, ins.counts, ins.through, ins.probe,
		ins.eventIDAt, ins.decisionIDAt, ins.begin, ins.commit, ins.rollback} {
		if st != nil {
			st.Close()
		}
	}
}

// Append writes the batch in one transaction. Events, decisions, shadow decisions and alerts already
// stored are skipped.
func (s *Store) Append(ctx context.Context, b *store.Batch) error {
	if err := s.enter("append"); err != nil {
		return err
	}
	defer s.leave()
	if b.Len() == 0 {
		return nil
	}
	if s.guest {
		return fmt.Errorf("sqlite: append: %w: a guest store does not append events (the process that holds the database does)", store.ErrUnavailable)
	}
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("sqlite: append: %w", ctx.Err())
	}
	defer func() { <-s.wsem }()
	s.newEvents, s.newDecisions = s.newEvents[:0], s.newDecisions[:0]

	// The statements were prepared on this connection, which the Store holds for its whole life; Raw
	// locks it for the duration of the transaction.
	err := s.wconn.Raw(func(any) error {
		ins := s.ins
		if _, err := ins.begin.ExecContext(ctx, nil); err != nil {
			// A context that ends as BEGIN completes reports an error for a transaction that did
			// begin.
			_, _ = ins.rollback.ExecContext(context.WithoutCancel(ctx), nil)
			return translate(ctx, "append: begin", err)
		}
		if err := s.appendTx(ctx, b); err != nil {
			// An interrupted statement may already have ended the transaction; ROLLBACK then fails
			// harmlessly.
			_, _ = ins.rollback.ExecContext(context.WithoutCancel(ctx), nil)
			return err
		}
		// Once every row is written the commit goes through even if ctx ends now: a commit cut
		// short would leave the caller unable to tell what was stored.
		if _, err := ins.commit.ExecContext(context.WithoutCancel(ctx), nil); err != nil {
			_, _ = ins.rollback.ExecContext(context.WithoutCancel(ctx), nil)
			return translate(ctx, "append: commit", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.nextEvent += int64(len(s.newEvents))
	s.nextDecision += int64(len(s.newDecisions))
	s.ckpt.appended()
	// The batch is committed, so Append succeeds whatever follows: a chunk of a merge of id keys is
	// written even if ctx ends, and one that fails is written again by a later Append (or the tail is
	// merged at the next Open); Ping reports it meanwhile.
	var merr error
	for _, k := range []struct {
		ki    *keyIndex
		added []idKey
	}{{s.eventKeys, s.newEvents}, {s.decisionKeys, s.newDecisions}} {
		if err := s.afterCommit(context.WithoutCancel(ctx), k.ki, k.added); err != nil {
			merr = err
		}
	}
	if merr != nil {
		s.mergeErr.Store(&merr)
	} else {
		s.mergeErr.Store(nil)
	}
	return nil
}

// errInvalid marks a record the store cannot represent; it is reported as such, not as the store
// being unavailable.
var errInvalid = errors.New("invalid record")

func (s *Store) appendTx(ctx context.Context, b *store.Batch) error {
	var (
		c   store.Counts
		err error
		buf []byte
		a   = &s.args
	)

	evs := b.Events
	var span eventSpan
	// The events to insert: those whose id is neither stored nor earlier in the batch.
	pick, err := s.pickNew(ctx, s.eventKeys, s.ins.eventIDAt, len(evs), func(i int) string { return evs[i].ID }, s.nextEvent, &s.newEvents)
	if err != nil {
		return s.appendErr(ctx, "events", err)
	}
	c.Events, err = s.ins.events.exec(ctx, a, len(pick), func(k int, a *args) error {
		e := &evs[pick[k]]
		ns, off, err := instant(e.Time)
		if err != nil {
			return fmt.Errorf("%w: event %q: %v", errInvalid, e.ID, err)
		}
		span.add(ns, off)
		raw := e.Raw
		if raw == nil {
			raw = []byte{}
		}
		a.add(s.newEvents[k].seq, e.ID, e.Account, e.Type, ns, off, raw)
		return nil
	})
	if err != nil {
		return s.appendErr(ctx, "events", err)
	}

	ds := b.Decisions
	pick, err = s.pickNew(ctx, s.decisionKeys, s.ins.decisionIDAt, len(ds), func(i int) string { return ds[i].ID }, s.nextDecision, &s.newDecisions)
	if err != nil {
		return s.appendErr(ctx, "decisions", err)
	}
	c.Decisions, err = s.ins.decisions.exec(ctx, a, len(pick), func(k int, a *args) error {
		d := &ds[pick[k]]
		ns, off, err := instant(d.Time)
		if err != nil {
			return fmt.Errorf("%w: decision of event %q: %v", errInvalid, d.ID, err)
		}
		var reasons string
		buf, reasons = reasonsJSON(buf, d.Reasons)
		a.add(s.newDecisions[k].seq, d.ID, d.Account, d.Type, d.Action.String(), int64(d.Score), reasons, ns, off)
		return nil
	})
	if err != nil {
		return s.appendErr(ctx, "decisions", err)
	}

	sds := b.ShadowDecisions
	c.ShadowDecisions, err = s.ins.shadows.exec(ctx, a, len(sds), func(i int, a *args) error {
		d := &sds[i]
		ns, off, err := instant(d.Time)
		if err != nil {
			return fmt.Errorf("%w: shadow decision of event %q: %v", errInvalid, d.ID, err)
		}
		var reasons string
		buf, reasons = reasonsJSON(buf, d.Reasons)
		a.add(d.RuleSet, d.ID, d.Account, d.Type, d.Action.String(), int64(d.Score), reasons, ns, off)
		return nil
	})
	if err != nil {
		return s.appendErr(ctx, "shadow decisions", err)
	}

	for i := range b.Alerts {
		al := &b.Alerts[i]
		ns, off, err := instant(al.Time)
		if err != nil {
			return s.appendErr(ctx, "alerts", fmt.Errorf("%w: alert %q: %v", errInvalid, al.ID, err))
		}
		var reasons string
		buf, reasons = reasonsJSON(buf, al.Reasons)
		*a = (*a)[:0]
		a.add(al.ID, al.Kind, ns, off, int64(al.Score), reasons, stringsJSON(al.Symbols), stringsJSON(al.Accounts))
		seq, stored, err := queryInt(ctx, s.ins.alert, *a)
		if err != nil {
			return s.appendErr(ctx, "alerts", err)
		}
		if !stored {
			continue // already stored
		}
		c.Alerts++
		for _, side := range []struct {
			st     driverStmt
			values []string
		}{{s.ins.alertAccount, al.Accounts}, {s.ins.alertSymbol, al.Symbols}} {
			for _, v := range side.values {
				*a = (*a)[:0]
				a.add(v, seq)
				if _, err := side.st.ExecContext(ctx, *a); err != nil {
					return s.appendErr(ctx, "alerts", err)
				}
			}
		}
	}

	*a = (*a)[:0]
	a.add(c.Events, c.Decisions, c.ShadowDecisions, c.Alerts)
	if span.n > 0 {
		a.add(span.firstNS, span.firstOff, span.lastNS, span.lastOff)
	} else {
		a.add(nil, nil, nil, nil)
	}
	if _, err := s.ins.counts.ExecContext(ctx, *a); err != nil {
		return s.appendErr(ctx, "counts", err)
	}
	return nil
}

// pickNew returns the indexes of the n records (ids id(i)) to insert: those whose id is neither stored
// nor repeated from earlier in the batch. It sets *added to their keys with the seqs they are given,
// from next on.
func (s *Store) pickNew(ctx context.Context, ki *keyIndex, idAt driverStmt, n int, id func(i int) string, next int64, added *[]idKey) ([]int, error) {
	pick := s.pick[:0]
	*added = (*added)[:0]
	clear(s.inBatch)
	for i := range n {
		x := id(i)
		h := idHash(x)
		if _, dup := s.inBatch[x]; dup {
			continue
		}
		held, err := s.writerLookup(ctx, ki, idAt, x, h)
		if err != nil {
			return nil, err
		}
		if held {
			continue
		}
		s.inBatch[x] = struct{}{}
		pick = append(pick, i)
		*added = append(*added, idKey{h, next + int64(len(*added))})
	}
	s.pick = pick
	return pick, nil
}

// queryInt runs a statement that returns at most one integer, and reports whether it returned one.
func queryInt(ctx context.Context, st driverStmt, a []driver.NamedValue) (int64, bool, error) {
	rows, err := st.QueryContext(ctx, a)
	if err != nil {
		return 0, false, err
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	switch err := rows.Next(dest); {
	case err == io.EOF:
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	v, ok := dest[0].(int64)
	if !ok {
		return 0, false, fmt.Errorf("RETURNING seq gave %T", dest[0])
	}
	return v, true, nil
}

func (s *Store) appendErr(ctx context.Context, what string, err error) error {
	if errors.Is(err, errInvalid) {
		return fmt.Errorf("sqlite: append %s: %w", what, err)
	}
	return translate(ctx, "append "+what, err)
}

// eventSpan is the earliest and the latest event time of a batch.
type eventSpan struct {
	n                 int
	firstNS, lastNS   int64
	firstOff, lastOff int64
}

// add counts one event's time columns; a zero time (ns nil) has no place in the range.
func (sp *eventSpan) add(nsv any, o int64) {
	ns, ok := nsv.(int64)
	if !ok {
		return
	}
	if sp.n == 0 || ns < sp.firstNS {
		sp.firstNS, sp.firstOff = ns, o
	}
	if sp.n == 0 || ns > sp.lastNS {
		sp.lastNS, sp.lastOff = ns, o
	}
	sp.n++
}
