package report

import (
	"encoding/csv"
	"io"
	"sort"
	"strconv"

	"github.com/brokerguard/brokerguard/internal/money"
	"github.com/brokerguard/brokerguard/internal/reconstruct"
)

// TallyCounting names how Tally counts: each unauthorized access (every attacker login and every
// first use of a stolen session), each execution as a trade, amounts rounded down to whole yen. Rows
// filed before it was introduced have no counting ("": one access per attacker session taken from
// its login even when the session was stolen, one trade per executed order, exact yen).
const TallyCounting = "per_access"

// TallyRow is one calendar month (JST) of the regulator's tally of unauthorized access and trading,
// as the regulator's monthly table shows it. It is a plain value: stored as JSON it keeps every
// figure, so a filed report can be kept beside later revisions of the same month.
type TallyRow struct {
	Month string `json:"month"` // YYYY-MM in JST
	// Accesses counts the unauthorized accesses that occurred in the month: every successful login of
	// the attacker and every first use of a session the attacker did not log into (a stolen session),
	// reconstructed from each incident's events (see Reconstruction.Accesses).
	Accesses int64 `json:"unauthorized_accesses"`
	// Trades counts the executions of unauthorized orders in the month: an order filled in three
	// parts is three trades.
	Trades int64 `json:"unauthorized_trades"`
	// SoldYen and BoughtYen are the executed value (quantity × price) of unauthorized sells and buys,
	// each execution in its own month, summed exactly and rounded down to whole yen once.
	SoldYen   money.Yen `json:"sold_yen"`
	BoughtYen money.Yen `json:"bought_yen"`
	// Accounts counts the accounts with an unauthorized access or execution in the month.
	Accounts int64 `json:"accounts_affected"`
	// SoldYenExact and BoughtYenExact are the same sums before rounding (to reconcile with the
	// valuations of compensation). Absent from rows filed before TallyCounting.
	SoldYenExact   *money.Yen `json:"sold_yen_exact,omitempty"`
	BoughtYenExact *money.Yen `json:"bought_yen_exact,omitempty"`
	// Counting is how the row was counted: TallyCounting, or "" for a row filed before it.
	Counting string `json:"counting,omitempty"`
}

// TallyColumn describes one column of the tally (the CSV header names, the JSON keys).
type TallyColumn struct {
	Name, Description string
}

// TallyColumns describes the tally's columns, in the order of the CSV.
var TallyColumns = []TallyColumn{
	{"month", "calendar month of occurrence, YYYY-MM, Japan time"},
	{"unauthorized_accesses", "each unauthorized access: every successful login of the attacker and every first use of a session the attacker did not log into (a stolen session); reconstructed per incident from its events: the sessions of its unauthorized orders and those it names, and the account's other sessions within 72 hours whose login or requests came from the attacker's addresses (those of the unauthorized orders) or devices (those of the attacker's logins); one per session"},
	{"unauthorized_trades", "each execution (fill) of an unauthorized order"},
	{"sold_yen", "executed value (quantity × price) of unauthorized sells, summed exactly and rounded down to whole yen"},
	{"bought_yen", "executed value of unauthorized buys (cash and margin), summed exactly and rounded down to whole yen"},
	{"accounts_affected", "accounts with an unauthorized access or execution in the month"},
}

// Tally computes the monthly figures of a set of incidents. An access (a session), order or account
// that several incidents share counts once. Rows come in month order; months without any occurrence
// are left out.
func Tally(recs []*reconstruct.Reconstruction) []TallyRow {
	rows := map[string]*TallyRow{}
	accounts := map[string]map[string]bool{}
	row := func(month, account string) *TallyRow {
		r := rows[month]
		if r == nil {
			r = &TallyRow{Month: month, Counting: TallyCounting}
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
				row(reconstruct.DayOf(a.Time).Month(), acct).Accesses++
			}
		}
		for _, o := range rec.Orders {
			if len(o.Fills) == 0 || !once("order", o.Account, o.ID) {
				continue
			}
			for i := range o.Fills {
				f := &o.Fills[i]
				r := row(reconstruct.DayOf(f.Time).Month(), acct)
				r.Trades++
				switch f.Side {
				case "buy":
					r.BoughtYen = r.BoughtYen.Add(f.Yen())
				case "sell":
					r.SoldYen = r.SoldYen.Add(f.Yen())
				}
			}
		}
	}
	out := make([]TallyRow, 0, len(rows))
	for _, r := range rows {
		sold, bought := r.SoldYen, r.BoughtYen
		r.SoldYenExact, r.BoughtYenExact = &sold, &bought
		r.SoldYen, r.BoughtYen = sold.Floor(), bought.Floor()
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Month < out[j].Month })
	return out
}

// TallyHeader is the CSV header row of the tally.
var TallyHeader = func() []string {
	h := make([]string, len(TallyColumns))
	for i, c := range TallyColumns {
		h[i] = c.Name
	}
	return h
}()

// WriteTallyCSV writes the rows as CSV with a header row; yen are plain decimals (whole yen for the
// rows Tally computes).
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
