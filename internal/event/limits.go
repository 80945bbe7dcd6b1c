package event

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Limits bound the numbers an event may carry. A number above its bound, or one that is not finite, is
// refused (out_of_range, naming the field): it is a broken export rather than a trade, and arithmetic
// on it (a price times a quantity, a share of a balance) would overflow into infinities that every
// signal then reads as ordinary.
type Limits struct {
	// MaxYen bounds price, prev_close, cash, holdings[].cost, fee and amount. 0: DefaultMaxYen.
	MaxYen float64
	// MaxShares bounds quantity, volume, lot, shares_outstanding, avg_daily_volume and
	// holdings[].quantity. 0: DefaultMaxShares.
	MaxShares float64
}

// Bounds of Limits.
const (
	DefaultMaxYen    = 1e13 // ten trillion yen
	DefaultMaxShares = 1e12
	// CeilingYen and CeilingShares are the largest bounds that may be configured: a price times a
	// quantity stays far inside float64, and every whole number of shares is exact in a float64 and
	// an int64.
	CeilingYen    = 1e15
	CeilingShares = 1e15
)

// Validate reports a bound outside 1 to its ceiling (0 stands for the default).
func (l Limits) Validate() error {
	if l.MaxYen != 0 && !(l.MaxYen >= 1 && l.MaxYen <= CeilingYen) {
		return fmt.Errorf("max_yen: %v, want 1 to %g", l.MaxYen, float64(CeilingYen))
	}
	if l.MaxShares != 0 && !(l.MaxShares >= 1 && l.MaxShares <= CeilingShares) {
		return fmt.Errorf("max_shares: %v, want 1 to %g", l.MaxShares, float64(CeilingShares))
	}
	return nil
}

// Times of events: an event time must lie in [MinTime, MaxTime). Outside it a time has no Unix
// nanoseconds (the int64 ends in September 1677 and April 2262) and the stores cannot hold it; the
// margin of a few months on each side keeps the lateness and the signals' windows inside too.
var (
	MinTime = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// bounds is what one decoding checks numbers and times against.
type bounds struct {
	yen, shares float64
	tmin, tmax  time.Time // tmin ≤ t < tmax
	// stored: the event comes back from a store, where an earlier version of the decoder accepted it;
	// the checks of the raw form (UTF-8, repeated keys) are skipped.
	stored bool
}

func (l Limits) bounds() bounds {
	b := bounds{yen: l.MaxYen, shares: l.MaxShares, tmin: MinTime, tmax: MaxTime}
	if b.yen == 0 {
		b.yen = DefaultMaxYen
	}
	if b.shares == 0 {
		b.shares = DefaultMaxShares
	}
	return b
}

// storedBounds accept every event that a store holds: any finite amount, the shares that any
// configuration allows, and every time that has Unix nanoseconds.
var storedBounds = bounds{yen: math.MaxFloat64, shares: CeilingShares,
	tmin: time.Unix(0, math.MinInt64), tmax: time.Unix(0, math.MaxInt64).Add(time.Nanosecond), stored: true}

var defaultBounds = Limits{}.bounds()

func (b *bounds) checkTime(t time.Time, field string) *FieldError {
	if t.Before(b.tmin) || !t.Before(b.tmax) {
		return &FieldError{Field: field, Code: CodeBadTime, Msg: t.Format(time.RFC3339Nano) + " is outside " +
			b.tmin.Format("2006-01-02") + " to " + b.tmax.Add(-time.Nanosecond).Format("2006-01-02") + ", the times brokerguard can hold"}
	}
	return nil
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func outOfRange(field string, v, max float64, unit string) *FieldError {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return &FieldError{Field: field, Code: CodeOutOfRange, Msg: "not a finite number"}
	}
	return &FieldError{Field: field, Code: CodeOutOfRange, Msg: fmtNum(v) + " is above the bound of " + fmtNum(max) + " " + unit}
}

// yen checks a non-negative amount of money.
func (b *bounds) yenField(field string, v float64) *FieldError {
	if !(v <= b.yen) { // also NaN
		return outOfRange(field, v, b.yen, "yen")
	}
	if v < 0 {
		return badValue(field, fmtNum(v), "a number ≥ 0")
	}
	return nil
}

// sharesField checks a non-negative number of shares that may have decimals (an average volume).
func (b *bounds) sharesField(field string, v float64) *FieldError {
	if !(v <= b.shares) {
		return outOfRange(field, v, b.shares, "shares")
	}
	if v < 0 {
		return badValue(field, fmtNum(v), "a number ≥ 0")
	}
	return nil
}

// wholeShares checks a whole number of shares given as a JSON integer.
func (b *bounds) wholeShares(field string, v int64) *FieldError {
	if v < 0 {
		return badValue(field, strconv.FormatInt(v, 10), "a whole number ≥ 0")
	}
	if float64(v) > b.shares {
		return outOfRange(field, float64(v), b.shares, "shares")
	}
	return nil
}

func (b *bounds) wholeQuantity(field string, o optFloat, required bool) (int64, *FieldError) {
	if !o.set {
		if required {
			return 0, missing(field)
		}
		return 0, nil
	}
	if !(o.v <= b.shares) {
		return 0, outOfRange(field, o.v, b.shares, "shares")
	}
	if o.v != math.Trunc(o.v) || o.v < 0 {
		return 0, &FieldError{Field: field, Code: CodeWrongType, Msg: "want a whole number of shares ≥ 0, got " + fmtNum(o.v)}
	}
	return int64(o.v), nil
}

func (b *bounds) positivePrice(field string, o optFloat, required bool) *FieldError {
	if !o.set {
		if required {
			return missing(field)
		}
		return nil
	}
	if !(o.v <= b.yen) {
		return outOfRange(field, o.v, b.yen, "yen")
	}
	if o.v <= 0 {
		return badValue(field, fmtNum(o.v), "a price > 0")
	}
	return nil
}
