package reconstruct

import (
	"fmt"
	"sort"
	"time"
)

// JST is Japan Standard Time (UTC+9, no daylight saving): the zone of valuation dates and tally months.
var JST = time.FixedZone("JST", 9*60*60)

// Day is a calendar date in Japan, counted in days since 1970-01-01 (JST).
type Day int32

const secondsPerDay = 24 * 60 * 60

// DayOf returns the date in Japan of the instant t.
func DayOf(t time.Time) Day {
	s := t.Unix() + 9*60*60
	d := s / secondsPerDay
	if s%secondsPerDay < 0 {
		d--
	}
	return Day(d)
}

// ParseDay parses a date YYYY-MM-DD.
func ParseDay(s string) (Day, error) {
	t, err := time.ParseInLocation("2006-01-02", s, JST)
	if err != nil {
		return 0, fmt.Errorf("want a date YYYY-MM-DD, got %q", s)
	}
	return DayOf(t), nil
}

// Start returns the first instant of the day in Japan.
func (d Day) Start() time.Time {
	return time.Unix(int64(d)*secondsPerDay-9*60*60, 0).In(JST)
}

// String returns the date as YYYY-MM-DD.
func (d Day) String() string { return d.Start().Format("2006-01-02") }

// Month returns the month as YYYY-MM.
func (d Day) Month() string { return d.Start().Format("2006-01") }

// Weekday returns the day of the week in Japan.
func (d Day) Weekday() time.Weekday { return d.Start().Weekday() }

// Calendar tells trading days apart. There is no holiday table: a weekday is a trading day unless the
// data shows it was not, that is, it lies within the span of days that have quotes and has none itself
// (a market holiday such as 6 May 2025). Weekdays outside that span (after the end of the data, say) are
// trading days.
type Calendar struct {
	quoted []Day // sorted, distinct
}

// NewCalendar returns the calendar of the days on which quotes were seen.
func NewCalendar(quoted []Day) Calendar {
	q := append([]Day(nil), quoted...)
	sort.Slice(q, func(i, j int) bool { return q[i] < q[j] })
	out := q[:0]
	for i, d := range q {
		if i == 0 || d != q[i-1] {
			out = append(out, d)
		}
	}
	return Calendar{quoted: out}
}

// TradingDay reports whether d is a trading day.
func (c Calendar) TradingDay(d Day) bool {
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	if len(c.quoted) == 0 || d < c.quoted[0] || d > c.quoted[len(c.quoted)-1] {
		return true
	}
	i := sort.Search(len(c.quoted), func(i int) bool { return c.quoted[i] >= d })
	return c.quoted[i] == d
}

// NextTradingDay returns the first trading day after d.
func (c Calendar) NextTradingDay(d Day) Day {
	for n := d + 1; ; n++ {
		if c.TradingDay(n) {
			return n
		}
	}
}
