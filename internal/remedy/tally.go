package remedy

import (
	"encoding/csv"
	"io"
	"sort"
	"strconv"
)

// TallyRow is one calendar month (JST) of the regulator's tally of unauthorized trading. It is a plain
// value: stored as JSON it keeps every figure exactly, so a filed report can be kept beside later
// revisions of the same month.
type TallyRow struct {
	Month string `json:"month"` // YYYY-MM in JST
	// Accesses counts the attacker's accesses that occurred in the month (see Reconstruction.Accesses:
	// one per attacker session, at its login or, without one in the log, at its first event).
	Accesses int64 `json:"unauthorized_accesses"`
	// Trades counts the unauthorized orders with at least one execution, in the month of their first
	// execution.
	Trades int64 `json:"unauthorized_trades"`
	// SoldYen and BoughtYen are the executed value (quantity × price) of unauthorized sells and buys,
	// each execution in its own month. Exact decimals, not rounded.
	SoldYen   Yen `json:"sold_yen"`
	BoughtYen Yen `json:"bought_yen"`
	// Accounts counts the accounts with an unauthorized access or execution in the month.
	Accounts int64 `json:"accounts_affected"`
}

// Tally computes the monthly figures of a set of incidents. An access, order or account that several
// incidents share counts once. Rows come in month order; months without any occurrence are left out.
func Tally(recs []*Reconstruction) []TallyRow {
	rows := map[string]*TallyRow{}
	accounts := map[string]map[string]bool{}
	row := func(month, account string) *TallyRow {
		r := rows[month]
		if r == nil {
			r = &TallyRow{Month: month}
			rows[month] = r
			accounts[month] = map[string]bool{}
		}
		if !accounts[month][account] {
			accounts[month][account] = true
			r.Accounts++
		}
		return r
	}
	seen := map[string]bool{}
	once := func(kind, account, id string) bool {
		k := kind + "\x00" + account + "\x00" + id
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	}
	for _, rec := range recs {
		acct := rec.Incident.Account
		for _, a := range rec.Accesses {
			if once("session", acct, a.Session) {
				row(DayOf(a.Time).Month(), acct).Accesses++
			}
		}
		for _, o := range rec.Orders {
			if len(o.Fills) == 0 || !once("order", o.Account, o.ID) {
				continue
			}
			first := o.Fills[0].Time
			for i := range o.Fills {
				f := &o.Fills[i]
				if f.Time.Before(first) {
					first = f.Time
				}
				r := row(DayOf(f.Time).Month(), acct)
				switch f.Side {
				case "buy":
					r.BoughtYen = r.BoughtYen.Add(f.Yen())
				case "sell":
					r.SoldYen = r.SoldYen.Add(f.Yen())
				}
			}
			row(DayOf(first).Month(), acct).Trades++
		}
	}
	out := make([]TallyRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Month < out[j].Month })
	return out
}

// TallyHeader is the CSV header row of the tally.
var TallyHeader = []string{"month", "unauthorized_accesses", "unauthorized_trades", "sold_yen", "bought_yen", "accounts_affected"}

// WriteTallyCSV writes the rows as CSV with a header row; yen are plain decimals.
func WriteTallyCSV(w io.Writer, rows []TallyRow) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(TallyHeader); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{r.Month, strconv.FormatInt(r.Accesses, 10), strconv.FormatInt(r.Trades, 10),
			r.SoldYen.String(), r.BoughtYen.String(), strconv.FormatInt(r.Accounts, 10)}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
