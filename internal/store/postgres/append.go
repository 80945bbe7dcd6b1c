package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/brokerguard/brokerguard/internal/store"
)

// appendSQL writes a whole batch in one statement: each table's rows arrive as parallel arrays, are
// inserted in batch order (WITH ORDINALITY … ORDER BY), and skip the rows whose key is stored already.
// The counts are raised by the rows actually inserted.
const appendSQL = `
WITH e AS (
	INSERT INTO events (id, account, type, time_ns, tz_offset, raw)
	SELECT u.id, u.account, u.type, u.time_ns, u.tz_offset, u.raw
	FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int4[], $6::bytea[])
		WITH ORDINALITY AS u(id, account, type, time_ns, tz_offset, raw, ord)
	ORDER BY u.ord
	ON CONFLICT (id) DO NOTHING
	RETURNING 1
), d AS (
	INSERT INTO decisions (event_id, account, type, action, score, reasons, time_ns, tz_offset)
	SELECT u.event_id, u.account, u.type, u.action, u.score, u.reasons::json, u.time_ns, u.tz_offset
	FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::int4[], $12::text[], $13::int8[], $14::int4[])
		WITH ORDINALITY AS u(event_id, account, type, action, score, reasons, time_ns, tz_offset, ord)
	ORDER BY u.ord
	ON CONFLICT (event_id) DO NOTHING
	RETURNING 1
), sd AS (
	INSERT INTO shadow_decisions (rule_set, event_id, account, type, action, score, reasons, time_ns, tz_offset)
	SELECT u.rule_set, u.event_id, u.account, u.type, u.action, u.score, u.reasons::json, u.time_ns, u.tz_offset
	FROM unnest($15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::int4[], $21::text[], $22::int8[], $23::int4[])
		WITH ORDINALITY AS u(rule_set, event_id, account, type, action, score, reasons, time_ns, tz_offset, ord)
	ORDER BY u.ord
	ON CONFLICT (rule_set, event_id) DO NOTHING
	RETURNING 1
), a AS (
	INSERT INTO alerts (id, kind, time_ns, tz_offset, score, reasons, symbols, accounts)
	SELECT u.id, u.kind, u.time_ns, u.tz_offset, u.score, u.reasons::json,
		ARRAY(SELECT json_array_elements_text(u.symbols::json)), ARRAY(SELECT json_array_elements_text(u.accounts::json))
	FROM unnest($24::text[], $25::text[], $26::int8[], $27::int4[], $28::int4[], $29::text[], $30::text[], $31::text[])
		WITH ORDINALITY AS u(id, kind, time_ns, tz_offset, score, reasons, symbols, accounts, ord)
	ORDER BY u.ord
	ON CONFLICT (id) DO NOTHING
	RETURNING seq, id
), aa AS (
	INSERT INTO alert_accounts (account, alert_seq)
	SELECT p.account, a.seq FROM unnest($32::text[], $33::text[]) AS p(alert_id, account) JOIN a ON a.id = p.alert_id
	ON CONFLICT DO NOTHING
), asy AS (
	INSERT INTO alert_symbols (symbol, alert_seq)
	SELECT p.symbol, a.seq FROM unnest($34::text[], $35::text[]) AS p(alert_id, symbol) JOIN a ON a.id = p.alert_id
	ON CONFLICT DO NOTHING
)
UPDATE counts SET
	events = events + (SELECT count(*) FROM e),
	decisions = decisions + (SELECT count(*) FROM d),
	shadow_decisions = shadow_decisions + (SELECT count(*) FROM sd),
	alerts = alerts + (SELECT count(*) FROM a),
	-- $36/$37 and $38/$39 are the earliest and the latest event of the batch (NULL without events):
	-- events the batch repeats lie within the stored range already.
	first_off = CASE WHEN $36::int8 < first_ns OR (first_ns IS NULL AND $36::int8 IS NOT NULL) THEN $37::int4 ELSE first_off END,
	first_ns  = CASE WHEN $36::int8 < first_ns OR (first_ns IS NULL AND $36::int8 IS NOT NULL) THEN $36::int8 ELSE first_ns END,
	last_off  = CASE WHEN $38::int8 > last_ns OR (last_ns IS NULL AND $38::int8 IS NOT NULL) THEN $39::int4 ELSE last_off END,
	last_ns   = CASE WHEN $38::int8 > last_ns OR (last_ns IS NULL AND $38::int8 IS NOT NULL) THEN $38::int8 ELSE last_ns END`

// columns are the parallel arrays of one batch.
type columns struct {
	evID, evAccount, evType []string
	evTime                  []pgtype.Int8
	evOff                   []int32
	evRaw                   [][]byte

	dID, dAccount, dType, dAction, dReasons []string
	dScore, dOff                            []int32
	dTime                                   []pgtype.Int8

	sRuleSet, sID, sAccount, sType, sAction, sReasons []string
	sScore, sOff                                      []int32
	sTime                                             []pgtype.Int8

	aID, aKind, aReasons, aSymbols, aAccounts []string
	aTime                                     []pgtype.Int8
	aOff, aScore                              []int32

	// the earliest and the latest event time of the batch
	firstNS, lastNS   pgtype.Int8
	firstOff, lastOff pgtype.Int4

	// the accounts and symbols of the alerts, one pair per name; only the first alert of an ID in the
	// batch is the one that can be stored, so only its names are listed.
	acctAlert, acctName, symAlert, symName []string
}

func newColumns(b *store.Batch) (*columns, error) {
	c := &columns{}
	var buf []byte
	for i := range b.Events {
		e := &b.Events[i]
		ns, off, err := instant(e.Time)
		if err != nil {
			return nil, fmt.Errorf("%w: event %q: %v", errInvalid, e.ID, err)
		}
		raw := e.Raw
		if raw == nil {
			raw = []byte{}
		}
		c.evID, c.evAccount, c.evType = append(c.evID, e.ID), append(c.evAccount, e.Account), append(c.evType, e.Type)
		c.evTime, c.evOff, c.evRaw = append(c.evTime, ns), append(c.evOff, off), append(c.evRaw, raw)
		if ns.Valid && (!c.firstNS.Valid || ns.Int64 < c.firstNS.Int64) {
			c.firstNS, c.firstOff = ns, pgtype.Int4{Int32: off, Valid: true}
		}
		if ns.Valid && (!c.lastNS.Valid || ns.Int64 > c.lastNS.Int64) {
			c.lastNS, c.lastOff = ns, pgtype.Int4{Int32: off, Valid: true}
		}
	}
	for i := range b.Decisions {
		d := &b.Decisions[i]
		ns, off, err := instant(d.Time)
		if err != nil {
			return nil, fmt.Errorf("%w: decision of event %q: %v", errInvalid, d.ID, err)
		}
		var reasons string
		buf, reasons = reasonsJSON(buf, d.Reasons)
		c.dID, c.dAccount, c.dType = append(c.dID, d.ID), append(c.dAccount, d.Account), append(c.dType, d.Type)
		c.dAction, c.dScore, c.dReasons = append(c.dAction, d.Action.String()), append(c.dScore, int32(d.Score)), append(c.dReasons, reasons)
		c.dTime, c.dOff = append(c.dTime, ns), append(c.dOff, off)
	}
	for i := range b.ShadowDecisions {
		d := &b.ShadowDecisions[i]
		ns, off, err := instant(d.Time)
		if err != nil {
			return nil, fmt.Errorf("%w: shadow decision of event %q: %v", errInvalid, d.ID, err)
		}
		var reasons string
		buf, reasons = reasonsJSON(buf, d.Reasons)
		c.sRuleSet, c.sID, c.sAccount, c.sType = append(c.sRuleSet, d.RuleSet), append(c.sID, d.ID), append(c.sAccount, d.Account), append(c.sType, d.Type)
		c.sAction, c.sScore, c.sReasons = append(c.sAction, d.Action.String()), append(c.sScore, int32(d.Score)), append(c.sReasons, reasons)
		c.sTime, c.sOff = append(c.sTime, ns), append(c.sOff, off)
	}
	seen := make(map[string]bool, len(b.Alerts))
	for i := range b.Alerts {
		a := &b.Alerts[i]
		ns, off, err := instant(a.Time)
		if err != nil {
			return nil, fmt.Errorf("%w: alert %q: %v", errInvalid, a.ID, err)
		}
		var reasons string
		buf, reasons = reasonsJSON(buf, a.Reasons)
		c.aID, c.aKind, c.aTime, c.aOff = append(c.aID, a.ID), append(c.aKind, a.Kind), append(c.aTime, ns), append(c.aOff, off)
		c.aScore, c.aReasons = append(c.aScore, int32(a.Score)), append(c.aReasons, reasons)
		c.aSymbols, c.aAccounts = append(c.aSymbols, stringsJSON(a.Symbols)), append(c.aAccounts, stringsJSON(a.Accounts))
		if seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		for _, acct := range a.Accounts {
			c.acctAlert, c.acctName = append(c.acctAlert, a.ID), append(c.acctName, acct)
		}
		for _, sym := range a.Symbols {
			c.symAlert, c.symName = append(c.symAlert, a.ID), append(c.symName, sym)
		}
	}
	return c, nil
}

func (c *columns) args() []any {
	return []any{
		c.evID, c.evAccount, c.evType, c.evTime, c.evOff, c.evRaw,
		c.dID, c.dAccount, c.dType, c.dAction, c.dScore, c.dReasons, c.dTime, c.dOff,
		c.sRuleSet, c.sID, c.sAccount, c.sType, c.sAction, c.sScore, c.sReasons, c.sTime, c.sOff,
		c.aID, c.aKind, c.aTime, c.aOff, c.aScore, c.aReasons, c.aSymbols, c.aAccounts,
		c.acctAlert, c.acctName, c.symAlert, c.symName,
		c.firstNS, c.firstOff, c.lastNS, c.lastOff,
	}
}

// Append writes the batch in one transaction. Events, decisions, shadow decisions and alerts already
// stored are skipped.
func (s *Store) Append(ctx context.Context, b *store.Batch) (err error) {
	if err := s.enter("append"); err != nil {
		return err
	}
	defer s.leave()
	if b.Len() == 0 {
		return nil
	}
	c, err := newColumns(b)
	if err != nil {
		return fmt.Errorf("postgres: append: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return translate(ctx, "append: begin", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	// Appends to one schema take turns, from every process: the identity values of seq are then handed
	// out in commit order, and a reader that has seen seq n will never later find a smaller one.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", s.appendLock); err != nil {
		return translate(ctx, "append: lock", err)
	}
	if _, err := tx.Exec(ctx, appendSQL, c.args()...); err != nil {
		return translate(ctx, "append", err)
	}
	if err := tx.Commit(context.WithoutCancel(ctx)); err != nil {
		return translate(ctx, "append: commit", err)
	}
	return nil
}
