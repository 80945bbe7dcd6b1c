package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlstore"
)

// scanPage is how many events ScanEvents reads per query; between pages no connection is held, so fn
// may take its time.
const scanPage = 2048

// defaultLimit is the page size of a query with Limit 0.
const defaultLimit = 100

// ScanEvents calls fn for every event with Seq > after, in append order. An error from fn stops the
// scan and is returned as it is.
func (s *Store) ScanEvents(ctx context.Context, after int64, fn func(seq int64, rec store.EventRecord) error) error {
	if err := s.enter("scan events"); err != nil {
		return err
	}
	defer s.leave()
	var z zones
	return sqlstore.ScanPages(after, scanPage, func(after int64, seqs []int64, recs []store.EventRecord) ([]int64, []store.EventRecord, error) {
		return s.eventPage(ctx, after, seqs, recs, &z)
	}, fn)
}

func (s *Store) eventPage(ctx context.Context, after int64, seqs []int64, recs []store.EventRecord, z *zones) ([]int64, []store.EventRecord, error) {
	rows, err := s.pool.Query(ctx,
		"SELECT seq, id, account, type, time_ns, tz_offset, raw FROM events WHERE seq > $1 ORDER BY seq LIMIT $2", after, scanPage)
	if err != nil {
		return nil, nil, translate(ctx, "scan events", err)
	}
	return scanEventRows(ctx, rows, seqs, recs, z, "scan events")
}

// AccountEvents calls fn for every event of one account ("" for market data), in append order, a page
// at a time through the events_account index (account, seq); no statement is open while fn runs. An
// error from fn stops the read and is returned as it is.
func (s *Store) AccountEvents(ctx context.Context, account string, fn func(seq int64, rec store.EventRecord) error) error {
	if err := s.enter("account events"); err != nil {
		return err
	}
	defer s.leave()
	var z zones
	return sqlstore.ScanPages(0, scanPage, func(after int64, seqs []int64, recs []store.EventRecord) ([]int64, []store.EventRecord, error) {
		rows, err := s.pool.Query(ctx,
			"SELECT seq, id, account, type, time_ns, tz_offset, raw FROM events WHERE account = $1 AND seq > $2 ORDER BY seq LIMIT $3",
			account, after, scanPage)
		if err != nil {
			return nil, nil, translate(ctx, "account events", err)
		}
		return scanEventRows(ctx, rows, seqs, recs, &z, "account events")
	}, fn)
}

// scanEventRows reads event rows (seq, id, account, type, time_ns, tz_offset, raw) and closes them.
func scanEventRows(ctx context.Context, rows pgx.Rows, seqs []int64, recs []store.EventRecord, z *zones, op string) ([]int64, []store.EventRecord, error) {
	defer rows.Close()
	for rows.Next() {
		var (
			seq int64
			rec store.EventRecord
			ns  pgtype.Int8
			off int32
		)
		// raw is scanned into a new slice per row, which the caller may keep.
		if err := rows.Scan(&seq, &rec.ID, &rec.Account, &rec.Type, &ns, &off, &rec.Raw); err != nil {
			return nil, nil, translate(ctx, op, err)
		}
		rec.Time = z.time(ns, int(off))
		seqs = append(seqs, seq)
		recs = append(recs, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, translate(ctx, op, err)
	}
	return seqs, recs, nil
}

const decisionCols = "seq, event_id, account, type, action, score, reasons::text, time_ns, tz_offset"

// Decision returns the decision of one event, or ErrNotFound.
func (s *Store) Decision(ctx context.Context, eventID string) (store.StoredDecision, error) {
	if err := s.enter("decision"); err != nil {
		return store.StoredDecision{}, err
	}
	defer s.leave()
	var (
		d store.StoredDecision
		z zones
	)
	row := s.pool.QueryRow(ctx, "SELECT "+decisionCols+" FROM decisions WHERE event_id = $1", eventID)
	if err := scanDecision(row, &d.Seq, &d.Decision, &z); err != nil {
		return store.StoredDecision{}, translate(ctx, fmt.Sprintf("decision %q", eventID), err)
	}
	return d, nil
}

// Decisions returns the decisions q selects, newest first.
func (s *Store) Decisions(ctx context.Context, q store.DecisionQuery) ([]store.StoredDecision, error) {
	if err := s.enter("decisions"); err != nil {
		return nil, err
	}
	defer s.leave()
	query, args := decisionQuery("SELECT "+decisionCols+" FROM decisions", q)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, translate(ctx, "decisions", err)
	}
	defer rows.Close()
	var (
		out []store.StoredDecision
		z   zones
	)
	for rows.Next() {
		var d store.StoredDecision
		if err := scanDecision(rows, &d.Seq, &d.Decision, &z); err != nil {
			return nil, translate(ctx, "decisions", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, "decisions", err)
	}
	return out, nil
}

// ShadowDecisions returns the shadow decisions q selects, newest first, of every rule set.
func (s *Store) ShadowDecisions(ctx context.Context, q store.DecisionQuery) ([]store.ShadowDecision, error) {
	if err := s.enter("shadow decisions"); err != nil {
		return nil, err
	}
	defer s.leave()
	query, args := decisionQuery("SELECT rule_set, "+decisionCols+" FROM shadow_decisions", q)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, translate(ctx, "shadow decisions", err)
	}
	defer rows.Close()
	var (
		out []store.ShadowDecision
		z   zones
	)
	for rows.Next() {
		var (
			d   store.ShadowDecision
			seq int64
		)
		if err := scanDecision(rows, &seq, &d.Decision, &z, &d.RuleSet); err != nil {
			return nil, translate(ctx, "shadow decisions", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, "shadow decisions", err)
	}
	return out, nil
}

// conds builds a WHERE clause with numbered parameters.
type conds struct {
	where []string
	args  []any
}

func (c *conds) add(expr string, arg any) {
	c.args = append(c.args, arg)
	c.where = append(c.where, strings.ReplaceAll(expr, "?", "$"+strconv.Itoa(len(c.args))))
}

func (c *conds) timeRange(col string, since, until time.Time) {
	if !since.IsZero() {
		c.add(col+" >= ?", clampNanos(since))
	}
	if !until.IsZero() {
		c.add(col+" < ?", clampNanos(until))
	}
}

// finish returns sel with the conditions, newest first by seqCol, at most limit rows.
func (c *conds) finish(sel, seqCol string, limit int) (string, []any) {
	var b strings.Builder
	b.WriteString(sel)
	for i, w := range c.where {
		if i == 0 {
			b.WriteString(" WHERE ")
		} else {
			b.WriteString(" AND ")
		}
		b.WriteString(w)
	}
	if limit <= 0 {
		limit = defaultLimit
	}
	c.args = append(c.args, limit)
	b.WriteString(" ORDER BY " + seqCol + " DESC LIMIT $" + strconv.Itoa(len(c.args)))
	return b.String(), c.args
}

// decisionQuery appends q's conditions to sel, which selects from decisions or shadow_decisions.
func decisionQuery(sel string, q store.DecisionQuery) (string, []any) {
	var c conds
	if q.Account != "" {
		c.add("account = ?", q.Account)
	}
	if q.Action != "" {
		c.add("action = ?", q.Action)
	}
	c.timeRange("time_ns", q.Since, q.Until)
	if q.Before > 0 {
		c.add("seq < ?", q.Before)
	}
	return c.finish(sel, "seq", q.Limit)
}

// scanDecision reads the decisionCols of one row, preceded by the rule set when ruleSet is given.
func scanDecision(row pgx.Row, seq *int64, d *event.Decision, z *zones, ruleSet ...*string) error {
	var (
		action, reasons string
		ns              pgtype.Int8
		off             int32
	)
	dest := []any{seq, &d.ID, &d.Account, &d.Type, &action, &d.Score, &reasons, &ns, &off}
	if len(ruleSet) > 0 {
		dest = append([]any{ruleSet[0]}, dest...)
	}
	if err := row.Scan(dest...); err != nil {
		return err
	}
	a, ok := event.ParseAction(action)
	if !ok {
		return fmt.Errorf("stored decision of event %q has unknown action %q", d.ID, action)
	}
	rs, err := parseReasons(reasons)
	if err != nil {
		return fmt.Errorf("stored decision of event %q: reasons: %v", d.ID, err)
	}
	d.Action, d.Reasons, d.Time = a, rs, z.time(ns, int(off))
	return nil
}

// Alerts returns the alerts q selects, newest first.
func (s *Store) Alerts(ctx context.Context, q store.AlertQuery) ([]store.StoredAlert, error) {
	if err := s.enter("alerts"); err != nil {
		return nil, err
	}
	defer s.leave()
	var (
		from = "alerts a"
		seq  = "a.seq"
		c    conds
	)
	// With an account or symbol, the side table's (value, alert_seq) key yields the alerts newest first.
	if q.Account != "" {
		from, seq = "alert_accounts x JOIN alerts a ON a.seq = x.alert_seq", "x.alert_seq"
		c.add("x.account = ?", q.Account)
	}
	if q.Symbol != "" {
		if q.Account == "" {
			from, seq = "alert_symbols y JOIN alerts a ON a.seq = y.alert_seq", "y.alert_seq"
		} else {
			from += " JOIN alert_symbols y ON y.alert_seq = a.seq"
		}
		c.add("y.symbol = ?", q.Symbol)
	}
	if q.Kind != "" {
		c.add("a.kind = ?", q.Kind)
	}
	if q.Status != "" {
		c.add("coalesce((SELECT st.status FROM alert_status st WHERE st.alert_id = a.id), 'open') = ?", q.Status)
	}
	c.timeRange("a.time_ns", q.Since, q.Until)
	if q.Before > 0 {
		c.add(seq+" < ?", q.Before)
	}
	query, args := c.finish("SELECT a.seq, a.id, a.kind, a.time_ns, a.tz_offset, a.score, a.reasons::text, a.symbols, a.accounts FROM "+from,
		seq, q.Limit)

	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, translate(ctx, "alerts", err)
	}
	defer rows.Close()
	var (
		out []store.StoredAlert
		z   zones
	)
	for rows.Next() {
		var (
			a       store.StoredAlert
			ns      pgtype.Int8
			off     int32
			reasons string
		)
		if err := rows.Scan(&a.Seq, &a.ID, &a.Kind, &ns, &off, &a.Score, &reasons, &a.Symbols, &a.Accounts); err != nil {
			return nil, translate(ctx, "alerts", err)
		}
		a.Time = z.time(ns, int(off))
		if a.Reasons, err = parseReasons(reasons); err != nil {
			return nil, translate(ctx, "alerts", fmt.Errorf("stored alert %q: %v", a.ID, err))
		}
		if len(a.Symbols) == 0 {
			a.Symbols = nil
		}
		if len(a.Accounts) == 0 {
			a.Accounts = nil
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, "alerts", err)
	}
	return out, nil
}

// Counts returns the number of stored records of each kind.
func (s *Store) Counts(ctx context.Context) (store.Counts, error) {
	if err := s.enter("counts"); err != nil {
		return store.Counts{}, err
	}
	defer s.leave()
	var c store.Counts
	err := s.pool.QueryRow(ctx, "SELECT events, decisions, shadow_decisions, alerts FROM counts").
		Scan(&c.Events, &c.Decisions, &c.ShadowDecisions, &c.Alerts)
	if err != nil {
		return store.Counts{}, translate(ctx, "counts", err)
	}
	return c, nil
}

// Extent returns the number of events, their time range (kept by Append) and the size of the schema's
// tables with their indexes.
func (s *Store) Extent(ctx context.Context) (store.Extent, error) {
	if err := s.enter("extent"); err != nil {
		return store.Extent{}, err
	}
	defer s.leave()
	var (
		e                 store.Extent
		firstNS, lastNS   pgtype.Int8
		firstOff, lastOff pgtype.Int4
		z                 zones
	)
	err := s.pool.QueryRow(ctx, `SELECT events, first_ns, first_off, last_ns, last_off,
		(SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8 FROM pg_class c
			WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) AND c.relkind = 'r')
		FROM counts`).Scan(&e.Events, &firstNS, &firstOff, &lastNS, &lastOff, &e.Bytes)
	if err != nil {
		return store.Extent{}, translate(ctx, "extent", err)
	}
	e.First = z.time(firstNS, int(firstOff.Int32))
	e.Last = z.time(lastNS, int(lastOff.Int32))
	return e, nil
}

// EventsHeld reports which of ids are stored, through the unique index on events.id.
func (s *Store) EventsHeld(ctx context.Context, ids []string) ([]bool, error) {
	if err := s.enter("events held"); err != nil {
		return nil, err
	}
	defer s.leave()
	rows, err := s.pool.Query(ctx, "SELECT u.i FROM unnest($1::text[]) WITH ORDINALITY AS u(id, i) JOIN events e ON e.id = u.id", ids)
	if err != nil {
		return nil, translate(ctx, "events held", err)
	}
	defer rows.Close()
	out := make([]bool, len(ids))
	for rows.Next() {
		var i int64
		if err := rows.Scan(&i); err != nil {
			return nil, translate(ctx, "events held", err)
		}
		out[i-1] = true
	}
	if err := rows.Err(); err != nil {
		return nil, translate(ctx, "events held", err)
	}
	return out, nil
}
