package sim

import (
	"strconv"
	"time"
)

// Simulated time is kept as milliseconds since the Unix epoch; the firm and the exchange are in JST
// (UTC+9, no daylight saving), and every timestamp is written with +09:00.
const (
	msSecond  = int64(1000)
	msMinute  = 60 * msSecond
	msHour    = 60 * msMinute
	msDay     = 24 * msHour
	jstOffset = 9 * msHour
)

// TSE trading hours, as offsets from midnight JST.
const (
	amOpen   = 9 * msHour
	amClose  = 11*msHour + 30*msMinute
	pmOpen   = 12*msHour + 30*msMinute
	pmClose  = 15*msHour + 30*msMinute
	fundCut  = 15 * msHour // fund orders placed before this execute at the day's NAV
	sessMins = 300         // trading minutes a day
)

// jstDay returns the JST calendar day number (days since 1970-01-01) of ms.
func jstDay(ms int64) int64 {
	l := ms + jstOffset
	if l < 0 {
		return (l - msDay + 1) / msDay
	}
	return l / msDay
}

// dayStart returns the time of 00:00 JST of day.
func dayStart(day int64) int64 { return day*msDay - jstOffset }

// timeOfDay returns the offset of ms from midnight JST.
func timeOfDay(ms int64) int64 { return ms - dayStart(jstDay(ms)) }

// civil converts a day number into a proleptic Gregorian date (H. Hinnant's algorithm).
func civil(day int64) (y, m, d int) {
	z := day + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	yy := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	dd := doy - (153*mp+2)/5 + 1
	mm := mp + 3
	if mp >= 10 {
		mm = mp - 9
	}
	if mm <= 2 {
		yy++
	}
	return int(yy), int(mm), int(dd)
}

// dayOf returns the day number of a date.
func dayOf(t time.Time) int64 {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// weekday returns 0 for Sunday .. 6 for Saturday.
func weekday(day int64) int {
	w := (day + 4) % 7 // 1970-01-01 was a Thursday
	if w < 0 {
		w += 7
	}
	return int(w)
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

// appendDate appends YYYY-MM-DD of day.
func appendDate(b []byte, day int64) []byte {
	y, m, d := civil(day)
	if y < 1000 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	return append2(b, d)
}

func dateString(day int64) string { return string(appendDate(nil, day)) }

// timeWriter formats RFC 3339 timestamps in JST with millisecond precision, caching the date part.
type timeWriter struct {
	day    int64
	prefix []byte
}

func (tw *timeWriter) append(b []byte, ms int64) []byte {
	day := jstDay(ms)
	if tw.prefix == nil || day != tw.day {
		tw.day = day
		tw.prefix = append(appendDate(tw.prefix[:0], day), 'T')
	}
	b = append(b, tw.prefix...)
	off := ms - dayStart(day)
	h := int(off / msHour)
	mi := int(off / msMinute % 60)
	s := int(off / msSecond % 60)
	milli := int(off % msSecond)
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, mi)
	b = append(b, ':')
	b = append2(b, s)
	b = append(b, '.', byte('0'+milli/100), byte('0'+milli/10%10), byte('0'+milli%10))
	return append(b, "+09:00"...)
}

func formatTime(ms int64) string {
	var tw timeWriter
	return string(tw.append(nil, ms))
}

// Japanese public holidays and exchange closures (31 Dec - 3 Jan) on weekdays, 2024-2027.
var marketHolidays = map[string]bool{}

func init() {
	for _, d := range []string{
		"2024-01-01", "2024-01-02", "2024-01-03", "2024-01-08", "2024-02-12", "2024-02-23", "2024-03-20",
		"2024-04-29", "2024-05-03", "2024-05-06", "2024-07-15", "2024-08-12", "2024-09-16", "2024-09-23",
		"2024-10-14", "2024-11-04", "2024-12-31",
		"2025-01-01", "2025-01-02", "2025-01-03", "2025-01-13", "2025-02-11", "2025-02-24", "2025-03-20",
		"2025-04-29", "2025-05-05", "2025-05-06", "2025-07-21", "2025-08-11", "2025-09-15", "2025-09-23",
		"2025-10-13", "2025-11-03", "2025-11-24", "2025-12-31",
		"2026-01-01", "2026-01-02", "2026-01-12", "2026-02-11", "2026-02-23", "2026-03-20", "2026-04-29",
		"2026-05-04", "2026-05-05", "2026-05-06", "2026-07-20", "2026-08-11", "2026-09-21", "2026-09-22",
		"2026-09-23", "2026-10-12", "2026-11-03", "2026-11-23", "2026-12-31",
		"2027-01-01", "2027-01-11", "2027-02-11", "2027-02-23", "2027-03-22", "2027-04-29", "2027-05-03",
		"2027-05-04", "2027-05-05", "2027-07-19", "2027-08-11", "2027-09-20", "2027-09-23", "2027-10-11",
		"2027-11-03", "2027-11-23", "2027-12-31",
	} {
		marketHolidays[d] = true
	}
}

// isTradingDay reports whether the TSE is open on day.
func isTradingDay(day int64) bool {
	w := weekday(day)
	if w == 0 || w == 6 {
		return false
	}
	return !marketHolidays[dateString(day)]
}
