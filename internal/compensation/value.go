package compensation

import (
	"fmt"
	"sort"
	"time"

	"github.com/brokerguard/brokerguard/internal/money"
	"github.com/brokerguard/brokerguard/internal/reconstruct"
)

// Valuation bases: what the valuation date was derived from.
const (
	BasisOverride    = "override"                // given by the user
	BasisReportTime  = "report_time"             // the incident's report_time
	BasisFraudReport = "fraud_report"            // the account's fraud_report event in the log
	BasisLastEvent   = "last_unauthorized_event" // no report: the last unauthorized order or execution
)

// ValuationDay returns the valuation date of an incident when none is given: the first trading day
// after the fraud report (the incident's report_time, else the account's first fraud_report event at
// or after the incident's start), or after the last unauthorized event when there is no report. It
// returns the basis and the instant the date was derived from.
func ValuationDay(r *reconstruct.Reconstruction, m reconstruct.Market) (reconstruct.Day, string, time.Time) {
	basis, t := BasisLastEvent, r.End
	switch {
	case !r.Incident.ReportTime.IsZero():
		basis, t = BasisReportTime, r.Incident.ReportTime
	case !r.FraudReport.IsZero():
		basis, t = BasisFraudReport, r.FraudReport
	}
	d := reconstruct.DayOf(t) + 1
	for !m.TradingDay(d) {
		d++
	}
	return d, basis, t
}

// SymbolLoss is the unauthorized trading in one symbol and what it cost the customer.
type SymbolLoss struct {
	Symbol       string   `json:"symbol"`
	AccountTypes []string `json:"account_types"` // of the unauthorized orders: cash, margin, nisa
	// HeldBefore is the shares held just before the incident (opening snapshot plus the customer's own
	// executions); shares the attacker sold beyond it were sold short or on margin.
	HeldBefore   int64     `json:"held_before"`
	BoughtShares int64     `json:"bought_shares"`
	BoughtYen    money.Yen `json:"bought_yen"`
	SoldShares   int64     `json:"sold_shares"`
	SoldYen      money.Yen `json:"sold_yen"`
	Fees         money.Yen `json:"fees"`
	// Price is V_s, the valuation price; nil only when no price was found and none was needed (the
	// attacker bought and sold as many shares as each other).
	Price *reconstruct.PricePoint `json:"valuation_price"`
	// RestoreLoss is this symbol's part of the restore loss:
	// (sold − bought shares) × V_s − sold yen + bought yen + fees.
	RestoreLoss money.Yen `json:"restore_loss"`
	// PurchasedLoss is loss_s of half_purchased, for a symbol the attacker bought:
	// bought yen − sold yen − max(0, bought − sold shares) × V_s.
	PurchasedLoss *money.Yen `json:"purchased_loss,omitempty"`
}

// Amounts are the compensation under each built-in policy, in whole yen (rounded down once, at the end).
type Amounts struct {
	Restore       money.Yen `json:"restore"`
	HalfPurchased money.Yen `json:"half_purchased"`
	HalfTotal     money.Yen `json:"half_total"`
}

// Of returns the amount under the base policy named, or false.
func (a Amounts) Of(base string) (money.Yen, bool) {
	switch base {
	case BaseRestore:
		return a.Restore, true
	case BaseHalfPurchased:
		return a.HalfPurchased, true
	case BaseHalfTotal:
		return a.HalfTotal, true
	}
	return money.Yen{}, false
}

// Valuation is the loss of one incident valued at the valuation date.
type Valuation struct {
	Date      string       `json:"valuation_date"` // YYYY-MM-DD (JST); prices are the last at or before its end
	Symbols   []SymbolLoss `json:"symbols"`        // by symbol
	BoughtYen money.Yen    `json:"bought_yen"`
	SoldYen   money.Yen    `json:"sold_yen"`
	Fees      money.Yen    `json:"fees"`
	// RestoreLoss is exact (not rounded): Σ_s (sold − bought shares) × V_s − Σ sold yen + Σ bought yen
	// + fees. Positive is a loss to the customer, negative a gain.
	RestoreLoss money.Yen `json:"restore_loss"`
	Amounts     Amounts   `json:"amounts"`
	// Notes say where the valuation departs from the plain rule (a price taken from an execution).
	Notes []string `json:"notes,omitempty"`
}

// The fixed figures of the built-in policies.
var (
	half          = money.MustYen("0.5")
	purchaseBonus = money.YenOf(10000)
)

// Value values an incident's unauthorized executions at the last prices at or before the end of day d
// (JST), and computes the three built-in policies' amounts. A symbol whose shares the attacker left
// changed but that has no price at all by then is an error.
func Value(r *reconstruct.Reconstruction, m reconstruct.Market, d reconstruct.Day) (*Valuation, error) {
	type acc struct {
		SymbolLoss
		types map[string]bool
	}
	bySym := map[string]*acc{}
	for _, of := range r.Fills() {
		f := of.Fill
		a := bySym[f.Symbol]
		if a == nil {
			a = &acc{SymbolLoss: SymbolLoss{Symbol: f.Symbol, HeldBefore: r.HeldBefore[f.Symbol]}, types: map[string]bool{}}
			bySym[f.Symbol] = a
		}
		if t := of.Order.AccountType; t != "" {
			a.types[t] = true
		}
		switch f.Side {
		case "buy":
			a.BoughtShares += f.Quantity
			a.BoughtYen = a.BoughtYen.Add(f.Yen())
		case "sell":
			a.SoldShares += f.Quantity
			a.SoldYen = a.SoldYen.Add(f.Yen())
		}
		a.Fees = a.Fees.Add(f.Fee)
	}
	syms := make([]string, 0, len(bySym))
	for s := range bySym {
		syms = append(syms, s)
	}
	sort.Strings(syms)

	v := &Valuation{Date: d.String(), Symbols: []SymbolLoss{}}
	var purchased money.Yen // Σ_s max(0, loss_s) over the symbols bought
	for _, s := range syms {
		a := bySym[s]
		for _, t := range []string{"cash", "margin", "nisa"} {
			if a.types[t] {
				a.AccountTypes = append(a.AccountTypes, t)
			}
		}
		if a.AccountTypes == nil {
			a.AccountTypes = []string{}
		}
		net := a.SoldShares - a.BoughtShares
		var price money.Yen
		if p, ok := m.PriceAt(s, d); ok {
			a.Price = &p
			price = p.Price
			if p.Source == reconstruct.SourceExecution {
				v.Notes = append(v.Notes, fmt.Sprintf("%s: no quote at or before the end of %s; valued at the last execution price, %s yen (event %s, %s)",
					s, d, p.Price, p.EventID, p.Time.In(reconstruct.JST).Format(time.RFC3339)))
			}
		} else if net != 0 {
			return nil, fmt.Errorf("symbol %s: no quote or execution at or before the end of %s to value %d shares", s, d, abs(net))
		}
		a.RestoreLoss = price.MulInt(net).Sub(a.SoldYen).Add(a.BoughtYen).Add(a.Fees)
		if a.BoughtShares > 0 {
			l := a.BoughtYen.Sub(a.SoldYen).Sub(price.MulInt(max(0, a.BoughtShares-a.SoldShares)))
			a.PurchasedLoss = &l
			purchased = purchased.Add(money.Max(money.Yen{}, l))
		}
		v.BoughtYen = v.BoughtYen.Add(a.BoughtYen)
		v.SoldYen = v.SoldYen.Add(a.SoldYen)
		v.Fees = v.Fees.Add(a.Fees)
		v.RestoreLoss = v.RestoreLoss.Add(a.RestoreLoss)
		v.Symbols = append(v.Symbols, a.SymbolLoss)
	}
	loss := money.Max(money.Yen{}, v.RestoreLoss)
	v.Amounts = Amounts{
		Restore:       loss.Floor(),
		HalfPurchased: half.Mul(purchased).Add(v.Fees).Add(purchaseBonus).Floor(),
		HalfTotal:     half.Mul(loss).Floor(),
	}
	return v, nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
