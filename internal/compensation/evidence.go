package compensation

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/money"
	"github.com/brokerguard/brokerguard/internal/reconstruct"
)

// Evidence is what an incident's evidence file shows: the reconstruction (the timeline of the
// unauthorized activity), its computation (valuation, policy, factors, recommendation) and the
// approvals given so far. The command line writes it with no approvals; a server can fill them in
// from its audit trail.
type Evidence struct {
	// Heading is the title of the document ("" gives "Account takeover incident: compensation decision").
	Heading   string
	Generated time.Time // when the file was made
	Rec       *reconstruct.Reconstruction
	Result    *Result
	Policy    *Policy
	Approvals []Approval
}

// Approval is a supervisor's decision on a recommended amount.
type Approval struct {
	Time     time.Time  `json:"time"`
	Actor    string     `json:"actor"`
	Role     string     `json:"role,omitempty"`
	Decision string     `json:"decision"`         // "approved" or "rejected"
	Amount   *money.Yen `json:"amount,omitempty"` // the amount approved, when it differs from the recommendation
	Note     string     `json:"note,omitempty"`
}

//go:embed evidence.html
var evidenceHTML string

var evidenceTemplate = template.Must(template.New("evidence").Parse(evidenceHTML))

// WriteEvidence writes the evidence file of one incident: a self-contained HTML page (no scripts,
// no external assets) meant to be printed or saved as PDF, with times in JST. Every text from the
// data (account ids, notes, wording) is escaped.
func WriteEvidence(w io.Writer, e *Evidence) error {
	if e.Rec == nil || e.Result == nil || e.Result.Valuation == nil || e.Result.Decision == nil || e.Policy == nil {
		return fmt.Errorf("evidence: the incident's reconstruction, valuation, decision and policy are all needed")
	}
	return evidenceTemplate.Execute(w, evidenceView(e))
}

const jstLayout = "2006-01-02 15:04:05.000"

func jst(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(reconstruct.JST).Format(jstLayout)
}

type timelineRow struct {
	at                           time.Time
	Time, What, Session, Details string
	Event                        string
	order                        int
}

type symbolRow struct {
	Symbol, AccountTypes, HeldBefore, BoughtShares, BoughtYen, SoldShares, SoldYen, Fees string
	Price, PriceFrom, RestoreLoss, PurchasedLoss                                         string
}

type amountRow struct {
	Name, Rule, Amount string
	Base               bool
}

type factorRow struct{ Key, Side, Adjustment, Effect, Wording string }

type approvalRow struct{ Time, Actor, Role, Decision, Amount, Note string }

type evidenceData struct {
	Heading, Incident, Account, Generated, Status             string
	Start, End, Orders, Report, ValuationDate, ValuationBasis string
	OrderCount, AccessCount                                   int
	Timeline                                                  []timelineRow
	Symbols                                                   []symbolRow
	BoughtYen, SoldYen, Fees, RestoreLoss                     string
	Notes                                                     []string
	Amounts                                                   []amountRow
	PolicyName, PolicyBase, PolicyDescription, PolicyAmount   string
	Factors                                                   []factorRow
	Recommended, Explanation                                  string
	Approvals                                                 []approvalRow
}

func shares(n int64) string { return money.YenOf(n).Grouped() }

func evidenceView(e *Evidence) *evidenceData {
	rec, res, v, d := e.Rec, e.Result, e.Result.Valuation, e.Result.Decision
	inc := &rec.Incident
	data := &evidenceData{Heading: e.Heading, Incident: res.Key(), Account: inc.Account, Generated: jst(e.Generated) + " JST",
		Status: StatusPending, Start: jst(rec.Start), End: jst(rec.End), OrderCount: len(rec.Orders), AccessCount: len(rec.Accesses),
		ValuationDate: v.Date, BoughtYen: v.BoughtYen.Grouped(), SoldYen: v.SoldYen.Grouped(), Fees: v.Fees.Grouped(),
		RestoreLoss: v.RestoreLoss.Grouped(), Notes: v.Notes, PolicyName: e.Policy.Name, PolicyBase: e.Policy.Base,
		PolicyDescription: e.Policy.Description, PolicyAmount: d.PolicyAmount.Grouped(), Recommended: d.Recommended.Grouped(),
		Explanation: d.Explanation}
	if data.Heading == "" {
		data.Heading = "Account takeover incident: compensation decision"
	}
	if inc.ID != "" && inc.Line > 0 {
		data.Incident = inc.ID + " (incidents line " + strconv.FormatInt(inc.Line, 10) + ")"
	}
	ids := make([]string, len(rec.Orders))
	for i, o := range rec.Orders {
		ids[i] = o.ID
	}
	data.Orders = strings.Join(ids, ", ")
	if data.Orders == "" {
		data.Orders = "none"
	}
	if r := rec.Report; r != nil {
		data.Report = jst(r.Time) + " JST, " + r.Channel + " (event " + r.Event + ")"
		if r.Note != "" {
			data.Report += ": " + r.Note
		}
	} else if !inc.ReportTime.IsZero() {
		data.Report = jst(inc.ReportTime) + " JST (from the incident)"
	}
	switch res.ValuationBasis {
	case BasisOverride:
		data.ValuationBasis = "given"
	case BasisReportTime, BasisFraudReport:
		data.ValuationBasis = "the first trading day after the report of " + jst(*res.BasisTime) + " JST"
	case BasisLastEvent:
		data.ValuationBasis = "no report: the first trading day after the last unauthorized event, " + jst(*res.BasisTime) + " JST"
	}

	// The timeline: accesses, orders and executions, and the report, by time.
	var tl []timelineRow
	for _, a := range rec.Accesses {
		what := "login"
		if a.Method != "" {
			what += " (" + a.Method + ")"
		}
		if a.Kind == reconstruct.AccessFirstUse {
			what = "first use of the session"
			if a.Type != "" {
				what += " (" + a.Type + ")"
			}
		}
		tl = append(tl, timelineRow{at: a.Time, What: what, Session: a.Session, Details: netDetails(a.IP, a.Device), Event: a.EventID, order: 0})
	}
	for _, o := range rec.Orders {
		if o.EventID != "" {
			det := fmt.Sprintf("order %s: %s %s", o.ID, o.Side, o.Symbol)
			if o.AccountType != "" {
				det += " (" + o.AccountType + ")"
			}
			if n := netDetails(o.IP, o.Device); n != "" {
				det += "; " + n
			}
			tl = append(tl, timelineRow{at: o.Time, What: "order", Session: o.Session, Details: det, Event: o.EventID, order: 1})
		}
		for _, f := range o.Fills {
			det := fmt.Sprintf("order %s: %s %s × %s at %s yen = %s yen, fee %s yen", o.ID, f.Side, f.Symbol, shares(f.Quantity),
				f.Price.Grouped(), f.Yen().Grouped(), f.Fee.Grouped())
			tl = append(tl, timelineRow{at: f.Time, What: "execution", Session: o.Session, Details: det, Event: f.EventID, order: 2})
		}
	}
	if r := rec.Report; r != nil {
		det := "channel " + r.Channel
		if r.Note != "" {
			det += ": " + r.Note
		}
		tl = append(tl, timelineRow{at: r.Time, What: "fraud report", Details: det, Event: r.Event, order: 3})
	}
	sort.SliceStable(tl, func(i, j int) bool {
		if !tl[i].at.Equal(tl[j].at) {
			return tl[i].at.Before(tl[j].at)
		}
		return tl[i].order < tl[j].order
	})
	for i := range tl {
		tl[i].Time = jst(tl[i].at)
	}
	data.Timeline = tl

	for _, s := range v.Symbols {
		row := symbolRow{Symbol: s.Symbol, AccountTypes: strings.Join(s.AccountTypes, ", "), HeldBefore: shares(s.HeldBefore),
			BoughtShares: shares(s.BoughtShares), BoughtYen: s.BoughtYen.Grouped(), SoldShares: shares(s.SoldShares),
			SoldYen: s.SoldYen.Grouped(), Fees: s.Fees.Grouped(), RestoreLoss: s.RestoreLoss.Grouped(), Price: "–", PurchasedLoss: "–"}
		if p := s.Price; p != nil {
			row.Price = p.Price.Grouped()
			row.PriceFrom = p.Source + " " + jst(p.Time) + " (" + p.EventID + ")"
		}
		if s.PurchasedLoss != nil {
			row.PurchasedLoss = s.PurchasedLoss.Grouped()
		}
		data.Symbols = append(data.Symbols, row)
	}
	for _, name := range Builtins() {
		amt, _ := v.Amounts.Of(name)
		data.Amounts = append(data.Amounts, amountRow{Name: name, Rule: baseWording[name], Amount: amt.Grouped(), Base: name == d.Base})
	}
	for _, f := range d.Factors {
		data.Factors = append(data.Factors, factorRow{Key: f.Key, Side: f.Side, Adjustment: f.Adjustment, Effect: signed(f.Effect), Wording: f.Wording})
	}
	for _, a := range e.Approvals {
		row := approvalRow{Time: jst(a.Time), Actor: a.Actor, Role: a.Role, Decision: a.Decision, Amount: d.Recommended.Grouped(), Note: a.Note}
		if a.Amount != nil {
			row.Amount = a.Amount.Grouped()
		}
		data.Approvals = append(data.Approvals, row)
		data.Status = a.Decision
	}
	return data
}

func netDetails(ip, device string) string {
	var parts []string
	if ip != "" {
		parts = append(parts, "address "+ip)
	}
	if device != "" {
		parts = append(parts, "device "+device)
	}
	return strings.Join(parts, ", ")
}
