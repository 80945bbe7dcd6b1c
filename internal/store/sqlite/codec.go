package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
)

// Times are stored as two columns: the instant in Unix nanoseconds, and the offset the time was written
// with in seconds east of UTC, so that a time reads back as the same RFC 3339 text. The zero time is
// stored as NULL.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// instant returns the columns of t: nanoseconds (nil for the zero time) and offset.
func instant(t time.Time) (any, int64, error) {
	if t.IsZero() {
		return nil, 0, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return nil, 0, fmt.Errorf("time %s is outside the storable range (%d to %d)", t.Format(time.RFC3339), minTime.Year(), maxTime.Year())
	}
	_, off := t.Zone()
	return t.UnixNano(), int64(off), nil
}

// clampNanos returns t in Unix nanoseconds, clamped to the storable range, for comparisons.
func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// zones hands out the time.Location of an offset, reusing the last one: rows of one store nearly
// always share an offset, and a location per row would be an allocation per row.
type zones struct {
	off int
	loc *time.Location
}

func (z *zones) time(ns sql.NullInt64, off int) time.Time {
	if !ns.Valid {
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
	return time.Unix(0, ns.Int64).In(z.loc)
}

// reasonsJSON returns the JSON array of rs, in order.
func reasonsJSON(buf []byte, rs []event.Reason) ([]byte, string) {
	buf = event.AppendReasons(buf[:0], rs)
	return buf, string(buf)
}

// parseReasons reads a JSON array written by reasonsJSON; an empty array reads as nil.
func parseReasons(s string) ([]event.Reason, error) {
	if s == "[]" || s == "" {
		return nil, nil
	}
	var rs []event.Reason
	if err := json.Unmarshal([]byte(s), &rs); err != nil {
		return nil, err
	}
	return rs, nil
}

func stringsJSON(ss []string) string {
	if len(ss) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ss) // a []string always marshals
	return string(b)
}

func parseStrings(s string) ([]string, error) {
	if s == "[]" || s == "" {
		return nil, nil
	}
	var ss []string
	if err := json.Unmarshal([]byte(s), &ss); err != nil {
		return nil, err
	}
	return ss, nil
}
