// Package testlog writes small event logs in the contract for tests of the packages downstream of
// detection (reconstruction, compensation, the regulator's reports, backfill): one method per event
// type, times written short ("04-10 09:00" is 2025-04-10 09:00 JST), ids e1, e2, … in order.
package testlog

import (
	"fmt"
	"strings"
)

// Log is an event log being written.
type Log struct {
	lines []string
	n     int
}

// At expands a short time: "04-10 09:00" is 2025-04-10T09:00:00+09:00, "04-10" is midnight.
func At(short string) string {
	d, hm, _ := strings.Cut(short, " ")
	if hm == "" {
		hm = "00:00"
	}
	return "2025-" + d + "T" + hm + ":00+09:00"
}

// Add writes an event of typ at when with the given fields (JSON members, without braces).
func (l *Log) Add(typ, when, fields string) {
	l.n++
	if fields != "" {
		fields = "," + fields
	}
	l.lines = append(l.lines, fmt.Sprintf(`{"id":"e%d","type":%q,"time":%q%s}`, l.n, typ, At(when), fields))
}

// Snapshot writes the account's opening position; holdings are "SYM:QTY" pairs, each at cost 100.
func (l *Log) Snapshot(when, account string, holdings ...string) {
	var hs []string
	for _, h := range holdings {
		s, q, _ := strings.Cut(h, ":")
		hs = append(hs, fmt.Sprintf(`{"symbol":%q,"quantity":%s,"cost":100}`, s, q))
	}
	l.Add("snapshot", when, fmt.Sprintf(`"account":%q,"cash":1000000,"holdings":[%s],"margin":true,"mfa":"none"`, account, strings.Join(hs, ",")))
}

// Login writes a successful password login.
func (l *Log) Login(when, account, session string) {
	l.Add("login", when, fmt.Sprintf(`"account":%q,"result":"success","method":"password","session":%q,"ip":"203.0.113.9"`, account, session))
}

// Change writes a change of e-mail.
func (l *Log) Change(when, account, session string) {
	l.Add("profile_change", when, fmt.Sprintf(`"account":%q,"session":%q,"ip":"203.0.113.9","field":"email"`, account, session))
}

// Order writes a market order.
func (l *Log) Order(when, account, id, session, symbol, side string, qty int64, accountType string) {
	l.Add("order", when, fmt.Sprintf(`"account":%q,"order_id":%q,"session":%q,"ip":"203.0.113.9","symbol":%q,"side":%q,"quantity":%d,"account_type":%q`,
		account, id, session, symbol, side, qty, accountType))
}

// Fill writes an execution; price and fee are JSON number literals.
func (l *Log) Fill(when, account, order, symbol, side string, qty int64, price, fee string) {
	l.Add("execution", when, fmt.Sprintf(`"account":%q,"order_id":%q,"exec_id":"x%d","symbol":%q,"side":%q,"quantity":%d,"price":%s,"fee":%s`,
		account, order, l.n, symbol, side, qty, price, fee))
}

// Trade writes an order and its single execution.
func (l *Log) Trade(when, account, id, session, symbol, side string, qty int64, price, fee, accountType string) {
	l.Order(when, account, id, session, symbol, side, qty, accountType)
	l.Fill(when, account, id, symbol, side, qty, price, fee)
}

// Quote writes a quote of symbol.
func (l *Log) Quote(when, symbol, price string) {
	l.Add("quote", when, fmt.Sprintf(`"symbol":%q,"price":%s,"volume":100`, symbol, price))
}

// Report writes the customer's fraud report.
func (l *Log) Report(when, account string) {
	l.Add("fraud_report", when, fmt.Sprintf(`"account":%q,"channel":"phone"`, account))
}

// LastID is the id of the last event written.
func (l *Log) LastID() string { return fmt.Sprintf("e%d", l.n) }

// Lines are the events written, one JSON line each.
func (l *Log) Lines() []string { return l.lines }

// Prepend writes a raw JSON line before every event written so far.
func (l *Log) Prepend(line string) { l.lines = append([]string{line}, l.lines...) }

// Last is the last event written, as its JSON line.
func (l *Log) Last() string { return l.lines[len(l.lines)-1] }

// Repeat writes the last event again, the same id and all: a duplicate in the log.
func (l *Log) Repeat() { l.lines = append(l.lines, l.lines[len(l.lines)-1]) }

// String is the log as JSON Lines.
func (l *Log) String() string { return strings.Join(l.lines, "\n") + "\n" }
