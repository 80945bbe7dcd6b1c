package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlstore"
)

// scanPage is how many events ScanEvents reads per query. Between pages no read transaction is open,
// so a long scan neither holds a connection while fn runs nor keeps the WAL from being checkpointed.
const scanPage = 1024

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
	rows, err := s.read.QueryContext(ctx,
		"SELECT seq, id, account, type, time_ns, tz_offset, raw FROM events WHERE seq > ? ORDER BY seq LIMIT ?", after, scanPage)
	if err != nil {
		return nil, nil, translate(ctx, "scan events", err)
	}
	return scanEventRows(ctx, rows, seqs, recs, z, "scan events")
}

// AccountEvents calls fn for every event of one account ("" for market data), in append order, a page
// at a time through the events_account index (account, seq): its cost follows the account's events,
// not the log's. No read transaction is open while fn runs. An error from fn stops the read and is
// returned as it is.
func (s *Store) AccountEvents(ctx context.Context, account string, fn func(seq int64, rec store.EventRecord) error) error {
	if err := s.enter("account events"); err != nil {
		return err
	}
	defer s.leave()
	var z zones
	return sqlstore.ScanPages(0, scanPage, func(after int64, seqs []int64, recs []store.EventRecord) ([]int64, []store.EventRecord, error) {
		rows, err := s.read.QueryContext(ctx,
			"SELECT seq, id, account, type, time_ns, tz_offset, raw FROM events WHERE account = ? AND seq > ? ORDER BY seq LIMIT ?",
			account, after, scanPage)
		if err != nil {
			return nil, nil, translate(ctx, "account events", err)
		}
		return scanEventRows(ctx, rows, seqs, recs, &z, "account events")
	}, fn)
}

// scanEventRows reads event rows (seq, id, account, type, time_ns, tz_offset, raw) and closes them.
func scanEventRows(ctx context.Context, rows *sql.Rows, seqs []int64, recs []store.EventRecord, z *zones, op string) ([]int64, []store.EventRecord, error) {
	defer rows.Close()
	// The raw objects of a page share one allocation; it is not reused, so a caller may keep rec.Raw.
	var arena []byte
	for rows.Next() {
		var (
			seq int64
			rec store.EventRecord
			ns  sql.NullInt64
			off int
			raw sql.RawBytes
		)
		if err := rows.Scan(&seq, &rec.ID, &rec.Account, &rec.Type, &ns, &off, &raw); err != nil {
			return nil, nil, translate(ctx, op, err)
		}
		if cap(arena)-len(arena) < len(raw) {
			arena = make([]byte, 0, max(len(raw), 256<<10))
		}
		start := len(arena)
		arena = append(arena, raw...)
		rec.Raw = arena[start:len(arena):len(arena)]
		rec.Time = z.time(ns, off)
		seqs = append(seqs, seq)
		recs = append(recs, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, translate(ctx, op, err)
	}
	return seqs, recs, nil
}

const decisionCols = "seq, event_id, account, type, action, score, reasons, time_ns, tz_offset"

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
	where, args := "event_id = ?", []any{eventID} // a guest keeps no id keys: it reads the whole table
	if !s.guest {
		cands, err := s.readerCandidates(ctx, s.decisionKeys, []int64{idHash(eventID)})
		if err != nil {
			return store.StoredDecision{}, translate(ctx, fmt.Sprintf("decision %q", eventID), err)
		}
		if len(cands[0]) == 0 {
			return store.StoredDecision{}, fmt.Errorf("sqlite: decision %q: %w", eventID, store.ErrNotFound)
		}
		where = "seq IN (?" + repeatArgs(len(cands[0])-1) + ") AND event_id = ?"
		args = args[:0]
		for _, seq := range cands[0] {
			args = append(args, seq)
		}
		args = append(args, eventID)
	}
	row := s.read.QueryRowContext(ctx, "SELECT "+decisionCols+" FROM decisions WHERE "+where+" ORDER BY seq LIMIT 1", args...)
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
	var (
		out []store.StoredDecision
		z   zones
	)
	err := s.queryDecisions(ctx, "decisions", decisionCols, q, func(rows *sql.Rows) error {
		var d store.StoredDecision
		if err := scanDecision(rows, &d.Seq, &d.Decision, &z); err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	if err != nil {
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
	var (
		out []store.ShadowDecision
		z   zones
	)
	err := s.queryDecisions(ctx, "shadow_decisions", "rule_set, "+decisionCols, q, func(rows *sql.Rows) error {
		var (
			d   store.ShadowDecision
			seq int64
		)
		if err := scanDecision(rows, &seq, &d.Decision, &z, &d.RuleSet); err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, translate(ctx, "shadow decisions", err)
	}
	return out, nil
}

// Decisions by account are indexed by segment (see the decisions_account index): a query by account
// probes segsPerQuery segments per statement, newest first, until it has enough rows.
const segShift = 13 // the index expression is (seq >> 13)

var segsPerQuery int64 = 32 // a variable for the tests only

// queryDecisions selects from table (decisions or shadow_decisions) what q selects, newest first, and
// calls each for every row.
func (s *Store) queryDecisions(ctx context.Context, table, cols string, q store.DecisionQuery, each func(*sql.Rows) error) error {
	var (
		where []string
		args  []any
	)
	if q.Action != "" {
		where, args = append(where, "action = ?"), append(args, q.Action)
	}
	where, args = timeRange(where, args, "time_ns", q.Since, q.Until)
	if q.Before > 0 {
		where, args = append(where, "seq < ?"), append(args, q.Before)
	}
	sel := "SELECT " + cols + " FROM " + table
	want := limit(q.Limit)
	if q.Account == "" {
		_, err := queryRows(ctx, s.read, finish(sel, where, "seq"), append(args, want), each)
		return err
	}

	top := q.Before - 1
	if q.Before <= 0 {
		if err := s.read.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM "+table).Scan(&top); err != nil {
			return err
		}
	}
	where, args = append(where, "account = ?"), append(args, q.Account)
	// Without statistics the planner may prefer the action index, scanning every decision of that
	// action for one account's.
	sel += " INDEXED BY " + table + "_account"
	for hi := top >> segShift; hi >= 0 && want > 0; hi -= segsPerQuery {
		lo := max(0, hi-segsPerQuery+1)
		segArgs := make([]any, 0, segsPerQuery)
		for seg := hi; seg >= lo; seg-- {
			segArgs = append(segArgs, seg)
		}
		in := "(seq >> 13) IN (?" + strings.Repeat(",?", len(segArgs)-1) + ")"
		n, err := queryRows(ctx, s.read, finish(sel, append([]string{in}, where...), "seq"),
			append(append(segArgs, args...), want), each)
		if err != nil {
			return err
		}
		want -= n
	}
	return nil
}

// queryRows runs query and calls each for every row; it returns the number of rows.
func queryRows(ctx context.Context, db *sql.DB, query string, args []any, each func(*sql.Rows) error) (int, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if err := each(rows); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

func timeRange(where []string, args []any, col string, since, until time.Time) ([]string, []any) {
	if !since.IsZero() {
		where, args = append(where, col+" >= ?"), append(args, clampNanos(since))
	}
	if !until.IsZero() {
		where, args = append(where, col+" < ?"), append(args, clampNanos(until))
	}
	return where, args
}

func finish(sel string, where []string, seqCol string) string {
	var b strings.Builder
	b.WriteString(sel)
	for i, w := range where {
		if i == 0 {
			b.WriteString(" WHERE ")
		} else {
			b.WriteString(" AND ")
		}
		b.WriteString(w)
	}
	b.WriteString(" ORDER BY " + seqCol + " DESC LIMIT ?")
	return b.String()
}

func limit(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return n
}

type scanner interface{ Scan(dest ...any) error }

// scanDecision reads the decisionCols of one row, preceded by the rule set when ruleSet is given.
func scanDecision(row scanner, seq *int64, d *event.Decision, z *zones, ruleSet ...*string) error {
	var (
		action, reasons string
		ns              sql.NullInt64
		off             int
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
	d.Action, d.Reasons, d.Time = a, rs, z.time(ns, off)
	return nil
}

// Alerts returns the alerts q selects, newest first.
func (s *Store) Alerts(ctx context.Context, q store.AlertQuery) ([]store.StoredAlert, error) {
	if err := s.enter("alerts"); err != nil {
		return nil, err
	}
	defer s.leave()
	var (
		from  = "alerts a"
		seq   = "a.seq"
		where []string
		args  []any
	)
	// With an account or symbol, the side table's (value, alert_seq) key yields the alerts newest first.
	if q.Account != "" {
		from = "alert_accounts x JOIN alerts a ON a.seq = x.alert_seq"
		seq = "x.alert_seq"
		where, args = append(where, "x.account = ?"), append(args, q.Account)
	}
	if q.Symbol != "" {
		if q.Account == "" {
			from, seq = "alert_symbols y JOIN alerts a ON a.seq = y.alert_seq", "y.alert_seq"
		} else {
			from += " JOIN alert_symbols y ON y.alert_seq = a.seq"
		}
		where, args = append(where, "y.symbol = ?"), append(args, q.Symbol)
	}
	if q.Kind != "" {
		where, args = append(where, "a.kind = ?"), append(args, q.Kind)
	}
	if q.Status != "" {
		where, args = append(where, "coalesce((SELECT st.status FROM alert_status st WHERE st.alert_id = a.id), 'open') = ?"), append(args, q.Status)
	}
	where, args = timeRange(where, args, "a.time_ns", q.Since, q.Until)
	if q.Before > 0 {
		where, args = append(where, seq+" < ?"), append(args, q.Before)
	}
	query := finish("SELECT a.seq, a.id, a.kind, a.time_ns, a.tz_offset, a.score, a.reasons, a.symbols, a.accounts FROM "+from,
		where, seq)
	args = append(args, limit(q.Limit))

	rows, err := s.read.QueryContext(ctx, query, args...)
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
			a                          store.StoredAlert
			ns                         sql.NullInt64
			off                        int
			reasons, symbols, accounts string
		)
		if err := rows.Scan(&a.Seq, &a.ID, &a.Kind, &ns, &off, &a.Score, &reasons, &symbols, &accounts); err != nil {
			return nil, translate(ctx, "alerts", err)
		}
		a.Time = z.time(ns, off)
		if a.Reasons, err = parseReasons(reasons); err == nil {
			if a.Symbols, err = parseStrings(symbols); err == nil {
				a.Accounts, err = parseStrings(accounts)
			}
		}
		if err != nil {
			return nil, translate(ctx, "alerts", fmt.Errorf("stored alert %q: %v", a.ID, err))
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
	err := s.read.QueryRowContext(ctx, "SELECT events, decisions, shadow_decisions, alerts FROM counts").
		Scan(&c.Events, &c.Decisions, &c.ShadowDecisions, &c.Alerts)
	if err != nil {
		return store.Counts{}, translate(ctx, "counts", err)
	}
	return c, nil
}

// Extent returns the number of events, their time range (kept by Append) and the size of the file
// with its WAL.
func (s *Store) Extent(ctx context.Context) (store.Extent, error) {
	if err := s.enter("extent"); err != nil {
		return store.Extent{}, err
	}
	defer s.leave()
	var (
		e                 store.Extent
		firstNS, lastNS   sql.NullInt64
		firstOff, lastOff sql.NullInt64
		z                 zones
	)
	err := s.read.QueryRowContext(ctx, "SELECT events, first_ns, first_off, last_ns, last_off FROM counts").
		Scan(&e.Events, &firstNS, &firstOff, &lastNS, &lastOff)
	if err != nil {
		return store.Extent{}, translate(ctx, "extent", err)
	}
	e.First = z.time(firstNS, int(firstOff.Int64))
	e.Last = z.time(lastNS, int(lastOff.Int64))
	for _, p := range []string{s.path, s.path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			e.Bytes += fi.Size()
		}
	}
	return e, nil
}

// heldChunk is the number of ids or seqs one EventsHeld statement looks up.
const heldChunk = 500

// EventsHeld reports which of ids are stored, through the id keys (idkeys.go): each id's candidate rows
// are read and compared by id.
func (s *Store) EventsHeld(ctx context.Context, ids []string) ([]bool, error) {
	if err := s.enter("events held"); err != nil {
		return nil, err
	}
	defer s.leave()
	out := make([]bool, len(ids))
	if s.guest {
		return out, s.guestHeld(ctx, ids, out)
	}
	hs := make([]int64, len(ids))
	for i, id := range ids {
		hs[i] = idHash(id)
	}
	cands, err := s.readerCandidates(ctx, s.eventKeys, hs)
	if err != nil {
		return nil, translate(ctx, "events held", err)
	}
	want := map[int64][]int{} // candidate seq → the ids that may be stored there
	var seqs []any
	for i, cs := range cands {
		for _, seq := range cs {
			if _, ok := want[seq]; !ok {
				seqs = append(seqs, seq)
			}
			want[seq] = append(want[seq], i)
		}
	}
	for start := 0; start < len(seqs); start += heldChunk {
		chunk := seqs[start:min(start+heldChunk, len(seqs))]
		q := "SELECT seq, id FROM events WHERE seq IN (?" + repeatArgs(len(chunk)-1) + ")"
		_, err := queryRows(ctx, s.read, q, chunk, func(rows *sql.Rows) error {
			var (
				seq int64
				id  string
			)
			if err := rows.Scan(&seq, &id); err != nil {
				return err
			}
			for _, i := range want[seq] {
				if ids[i] == id {
					out[i] = true
				}
			}
			return nil
		})
		if err != nil {
			return nil, translate(ctx, "events held", err)
		}
	}
	return out, nil
}

// guestHeld looks ids up by reading the events table: a guest keeps no id keys in memory.
func (s *Store) guestHeld(ctx context.Context, ids []string, out []bool) error {
	held := map[string]bool{}
	for start := 0; start < len(ids); start += heldChunk {
		chunk := ids[start:min(start+heldChunk, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		_, err := queryRows(ctx, s.read, "SELECT id FROM events WHERE id IN (?"+repeatArgs(len(chunk)-1)+")", args, func(rows *sql.Rows) error {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			held[id] = true
			return nil
		})
		if err != nil {
			return translate(ctx, "events held", err)
		}
	}
	for i, id := range ids {
		out[i] = held[id]
	}
	return nil
}
