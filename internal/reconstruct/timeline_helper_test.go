package reconstruct

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// timeline writes a small event log in the contract, one helper per event type. Times are written
// short ("04-10 09:00" is 2025-04-10 09:00 JST).
type timeline struct {
	lines []string
	n     int
}

func at(short string) string {
	d, hm, _ := strings.Cut(short, " ")
	if hm == "" {
		hm = "00:00"
	}
	return "2025-" + d + "T" + hm + ":00+09:00"
}

func (tl *timeline) add(typ, when, fields string) {
	tl.n++
	if fields != "" {
		fields = "," + fields
	}
	tl.lines = append(tl.lines, fmt.Sprintf(`{"id":"e%d","type":%q,"time":%q%s}`, tl.n, typ, at(when), fields))
}

// snapshot holds "SYM:QTY" pairs.
func (tl *timeline) snapshot(when, account string, holdings ...string) {
	var hs []string
	for _, h := range holdings {
		s, q, _ := strings.Cut(h, ":")
		hs = append(hs, fmt.Sprintf(`{"symbol":%q,"quantity":%s,"cost":100}`, s, q))
	}
	tl.add("snapshot", when, fmt.Sprintf(`"account":%q,"cash":1000000,"holdings":[%s],"margin":true,"mfa":"none"`, account, strings.Join(hs, ",")))
}

func (tl *timeline) login(when, account, session string) {
	tl.add("login", when, fmt.Sprintf(`"account":%q,"result":"success","method":"password","session":%q,"ip":"203.0.113.9"`, account, session))
}

func (tl *timeline) change(when, account, session string) {
	tl.add("profile_change", when, fmt.Sprintf(`"account":%q,"session":%q,"ip":"203.0.113.9","field":"email"`, account, session))
}

func (tl *timeline) order(when, account, id, session, symbol, side string, qty int64, accountType string) {
	tl.add("order", when, fmt.Sprintf(`"account":%q,"order_id":%q,"session":%q,"ip":"203.0.113.9","symbol":%q,"side":%q,"quantity":%d,"account_type":%q`,
		account, id, session, symbol, side, qty, accountType))
}

// fill writes an execution; price and fee are JSON number literals.
func (tl *timeline) fill(when, account, order, symbol, side string, qty int64, price, fee string) {
	tl.add("execution", when, fmt.Sprintf(`"account":%q,"order_id":%q,"exec_id":"x%d","symbol":%q,"side":%q,"quantity":%d,"price":%s,"fee":%s`,
		account, order, tl.n, symbol, side, qty, price, fee))
}

// trade writes an order and its single execution a second later.
func (tl *timeline) trade(when, account, id, session, symbol, side string, qty int64, price, fee, accountType string) {
	tl.order(when, account, id, session, symbol, side, qty, accountType)
	tl.fill(when, account, id, symbol, side, qty, price, fee)
}

func (tl *timeline) quote(when, symbol, price string) {
	tl.add("quote", when, fmt.Sprintf(`"symbol":%q,"price":%s,"volume":100`, symbol, price))
}

func (tl *timeline) report(when, account string) {
	tl.add("fraud_report", when, fmt.Sprintf(`"account":%q,"channel":"phone"`, account))
}

func (tl *timeline) String() string { return strings.Join(tl.lines, "\n") + "\n" }

// collect reads the timeline for the incidents and fails the test on any bad line.
func collect(t testing.TB, tl *timeline, incs ...Claim) *Book {
	t.Helper()
	b, err := Collect(context.Background(), strings.NewReader(tl.String()), incs)
	if err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Bad > 0 {
		t.Fatalf("bad event lines: %v", st.Errors)
	}
	return b
}

func reconstruct(t testing.TB, b *Book, inc Claim) *Reconstruction {
	t.Helper()
	rec, err := b.Reconstruct(&inc)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}
