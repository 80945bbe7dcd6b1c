// Package sqlstore holds what brokerguard's two SQL stores (store/sqlite and store/postgres) write and
// read the same way: how a time, a list of reasons and a list of strings become column values, and how
// the embedded migration files are named and ordered. Each store keeps its own SQL and driver.
package sqlstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/store"
)

// Times are stored as two columns: the instant in Unix nanoseconds, and the offset the time was written
// with in seconds east of UTC, so that a time reads back as the same RFC 3339 text. The zero time is
// stored as NULL.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// Instant returns the columns of t: nanoseconds (valid false for the zero time, stored as NULL) and the
// offset in seconds.
func Instant(t time.Time) (ns int64, valid bool, off int, err error) {
	if t.IsZero() {
		return 0, false, 0, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return 0, false, 0, fmt.Errorf("time %s is outside the storable range (%d to %d)", t.Format(time.RFC3339), minTime.Year(), maxTime.Year())
	}
	_, off = t.Zone()
	return t.UnixNano(), true, off, nil
}

// ClampNanos returns t in Unix nanoseconds, clamped to the storable range, for comparisons.
func ClampNanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// Zones hands out the time.Location of an offset, reusing the last one: rows of one store nearly
// always share an offset, and a location per row would be an allocation per row.
type Zones struct {
	off int
	loc *time.Location
}

// Time rebuilds a stored time from its columns.
func (z *Zones) Time(ns int64, valid bool, off int) time.Time {
	if !valid {
		return time.Time{}
	}
	if z.loc == nil || z.off != off {
		z.off = off
		if off == 0 {
			z.loc = time.UTC
		} else {
			z.loc = time.FixedZone("", off)
		}
	}
	return time.Unix(0, ns).In(z.loc)
}

// ReasonsJSON returns the JSON array of rs, in order, built in buf.
func ReasonsJSON(buf []byte, rs []event.Reason) ([]byte, string) {
	buf = event.AppendReasons(buf[:0], rs)
	return buf, string(buf)
}

// ParseReasons reads a JSON array written by ReasonsJSON; an empty array reads as nil.
func ParseReasons(s string) ([]event.Reason, error) {
	if s == "[]" || s == "" {
		return nil, nil
	}
	var rs []event.Reason
	if err := json.Unmarshal([]byte(s), &rs); err != nil {
		return nil, err
	}
	return rs, nil
}

// StringsJSON returns the JSON array of ss.
func StringsJSON(ss []string) string {
	if len(ss) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ss) // a []string always marshals
	return string(b)
}

// ParseStrings reads a JSON array written by StringsJSON; an empty array reads as nil.
func ParseStrings(s string) ([]string, error) {
	if s == "[]" || s == "" {
		return nil, nil
	}
	var ss []string
	if err := json.Unmarshal([]byte(s), &ss); err != nil {
		return nil, err
	}
	return ss, nil
}

// PageFunc reads the page of events after a sequence number, reusing seqs and recs.
type PageFunc func(after int64, seqs []int64, recs []store.EventRecord) ([]int64, []store.EventRecord, error)

// ScanPages calls fn for every event after the given sequence number, a page at a time, until a page
// comes back shorter than pageSize. An error from fn stops the scan and is returned as it is.
func ScanPages(after int64, pageSize int, page PageFunc, fn func(seq int64, rec store.EventRecord) error) error {
	var (
		seqs []int64
		recs []store.EventRecord
	)
	for {
		var err error
		seqs, recs, err = page(after, seqs[:0], recs[:0])
		if err != nil {
			return err
		}
		for i := range recs {
			if err := fn(seqs[i], recs[i]); err != nil {
				return err
			}
		}
		if len(recs) < pageSize {
			return nil
		}
		after = seqs[len(seqs)-1]
	}
}

// Migration is one embedded schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the migrations in dir of fsys in order. Their file names are NNNN_name.sql,
// numbered from 1 without gaps.
func Migrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %q: want NNNN_name.sql", e.Name())
		}
		// Versions follow one another: a database at version N applies exactly the migrations
		// after N, none left out.
		if v != len(out)+1 {
			return nil, fmt.Errorf("migration %q: want version %d", e.Name(), len(out)+1)
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	return out, nil
}

// Latest is the highest version of ms, 0 for none.
func Latest(ms []Migration) int {
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// Pending returns the migrations of ms above version current, in order.
func Pending(ms []Migration, current int) []Migration {
	for i, m := range ms {
		if m.Version > current {
			return ms[i:]
		}
	}
	return nil
}

// Rows is a result set as both drivers give it (*sql.Rows, pgx.Rows).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// DataTimeNS is the column value of an audit record's data time: Unix nanoseconds, 0 when unset.
func DataTimeNS(r *store.AuditRecord) int64 {
	if r.DataTime.IsZero() {
		return 0
	}
	return r.DataTime.UnixNano()
}

// ScanAudit reads audit records from rows of (seq, time_ns, data_time_ns, actor, action, target, reason,
// data as text, prev_hash, hash). The error is the driver's,
// for the store to translate.
func ScanAudit(rows Rows) ([]store.AuditRecord, error) {
	var out []store.AuditRecord
	for rows.Next() {
		var (
			r        store.AuditRecord
			ns, dtNS int64
			data     string
		)
		if err := rows.Scan(&r.Seq, &ns, &dtNS, &r.Actor, &r.Action, &r.Target, &r.Reason, &data, &r.Prev, &r.Hash); err != nil {
			return nil, err
		}
		r.Time = time.Unix(0, ns).UTC()
		if dtNS != 0 {
			r.DataTime = time.Unix(0, dtNS).UTC()
		}
		r.Data = json.RawMessage(data)
		out = append(out, r)
	}
	return out, rows.Err()
}

// KeyColumns are the columns of the api_keys table that ScanKey reads, in its order.
const KeyColumns = "name, role, hash, created_ns, revoked_ns"

// ScanKey reads one API key from a row of KeyColumns. The error is the driver's, for the store to
// translate, or one naming a stored hash of the wrong size.
func ScanKey(row interface{ Scan(...any) error }) (store.APIKey, error) {
	var (
		k       store.APIKey
		hash    []byte
		created int64
		revoked *int64
	)
	if err := row.Scan(&k.Name, &k.Role, &hash, &created, &revoked); err != nil {
		return k, err
	}
	if len(hash) != len(k.Hash) {
		return k, fmt.Errorf("key %q: stored hash of %d bytes", k.Name, len(hash))
	}
	copy(k.Hash[:], hash)
	k.Created = time.Unix(0, created).UTC()
	if revoked != nil {
		k.Revoked = time.Unix(0, *revoked).UTC()
	}
	return k, nil
}

// ScanTypeCounts reads rows of (type, count). The error is the driver's, for the store to translate.
func ScanTypeCounts(rows Rows) ([]store.TypeCount, error) {
	var out []store.TypeCount
	for rows.Next() {
		var tc store.TypeCount
		if err := rows.Scan(&tc.Type, &tc.Events); err != nil {
			return nil, err
		}
		out = append(out, tc)
	}
	return out, rows.Err()
}

// ChainAudit chains records written before the audit trail was a chain, oldest first: update stores
// each record's previous hash and its own (see store.AuditHash).
func ChainAudit(recs []store.AuditRecord, update func(seq int64, prev, hash []byte) error) error {
	var prev []byte
	for i := range recs {
		hash := store.AuditHash(prev, &recs[i])
		if err := update(recs[i].Seq, prev, hash); err != nil {
			return err
		}
		prev = hash
	}
	return nil
}

// UserColumns are the columns of the staff_users table that ScanUser reads, in its order.
const UserColumns = "name, role, password, disabled, failed, locked_until_ns, created_ns, changed_ns"

// ScanUser reads one staff user from a row of UserColumns. The error is the driver's.
func ScanUser(row interface{ Scan(...any) error }) (store.StaffUser, error) {
	var (
		u                       store.StaffUser
		locked, created, change int64
	)
	if err := row.Scan(&u.Name, &u.Role, &u.Password, &u.Disabled, &u.Failed, &locked, &created, &change); err != nil {
		return u, err
	}
	if locked != 0 {
		u.LockedUntil = time.Unix(0, locked).UTC()
	}
	u.Created, u.Changed = time.Unix(0, created).UTC(), time.Unix(0, change).UTC()
	return u, nil
}

// SessionColumns are the columns of the staff_sessions table that ScanSession reads, in its order.
const SessionColumns = "hash, user_name, created_ns, seen_ns"

// ScanSession reads one console session from a row of SessionColumns.
func ScanSession(row interface{ Scan(...any) error }) (store.StaffSession, error) {
	var (
		s             store.StaffSession
		hash          []byte
		created, seen int64
	)
	if err := row.Scan(&hash, &s.User, &created, &seen); err != nil {
		return s, err
	}
	if len(hash) != len(s.Hash) {
		return s, fmt.Errorf("session of %q: stored hash of %d bytes", s.User, len(hash))
	}
	copy(s.Hash[:], hash)
	s.Created, s.Seen = time.Unix(0, created).UTC(), time.Unix(0, seen).UTC()
	return s, nil
}

// AlertStatusColumns are the columns of the alert_status table that ScanAlertStatus reads.
const AlertStatusColumns = "alert_id, kind, status, assignee, reason, actor, changed_ns"

// ScanAlertStatus reads one alert status from a row of AlertStatusColumns.
func ScanAlertStatus(row interface{ Scan(...any) error }) (store.AlertStatus, error) {
	var (
		a  store.AlertStatus
		ns int64
	)
	err := row.Scan(&a.Alert, &a.Kind, &a.Status, &a.Assignee, &a.Reason, &a.Actor, &ns)
	a.Changed = time.Unix(0, ns).UTC()
	return a, err
}

// CheckAlertStatus refuses a status that is not one of the three.
func CheckAlertStatus(s store.AlertStatus) error {
	switch s.Status {
	case store.AlertOpen, store.AlertAcknowledged, store.AlertDismissed:
	default:
		return fmt.Errorf("alert %q: status %q: want open, acknowledged or dismissed", s.Alert, s.Status)
	}
	if s.Alert == "" || s.Kind == "" || s.Actor == "" {
		return fmt.Errorf("alert status: the alert id, its kind and the actor are required")
	}
	return nil
}

// QuoteOf reports whether raw, a stored quote event, is a quote of symbol.
func QuoteOf(raw []byte, symbol string) bool {
	if !bytes.Contains(raw, []byte(`"`+symbol+`"`)) {
		return false
	}
	var q struct {
		Symbol string `json:"symbol"`
	}
	return json.Unmarshal(raw, &q) == nil && q.Symbol == symbol
}

// QuoteLimit is the number of quotes Quotes returns when asked for 0.
const QuoteLimit = 10000

// OpenCounts turns counts of all alerts by kind (status "all") and of alert statuses by kind into
// counts by kind and status, the alerts without a status counted open; by kind, then status.
func OpenCounts(in []store.AlertKindCount) []store.AlertKindCount {
	type key struct{ kind, status string }
	n := map[key]int64{}
	var kinds []string
	for _, c := range in {
		if c.Status == "all" {
			kinds = append(kinds, c.Kind)
			n[key{c.Kind, store.AlertOpen}] += c.Count
			continue
		}
		if c.Status != store.AlertOpen {
			n[key{c.Kind, store.AlertOpen}] -= c.Count
			n[key{c.Kind, c.Status}] += c.Count
		}
	}
	slices.Sort(kinds)
	var out []store.AlertKindCount
	for _, k := range slices.Compact(kinds) {
		for _, st := range []string{store.AlertOpen, store.AlertAcknowledged, store.AlertDismissed} {
			if c := n[key{k, st}]; c > 0 {
				out = append(out, store.AlertKindCount{Kind: k, Status: st, Count: c})
			}
		}
	}
	return out
}
