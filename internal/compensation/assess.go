package compensation

import (
	"errors"
	"time"

	"github.com/brokerguard/brokerguard/internal/reconstruct"
)

// Result is the compensation computation of one incident: what it was valued on, the per-symbol
// breakdown, the amounts under every built-in policy, and the chosen policy's decision. When the
// incident could not be computed only the line, the incident's reference and Error are set. It is a
// plain value, ready to be stored as JSON; compensate writes one per line.
type Result struct {
	Line           int64      `json:"line,omitempty"`
	ID             string     `json:"id,omitempty"`
	Account        string     `json:"account,omitempty"`
	Orders         []string   `json:"orders,omitempty"`
	Start          *time.Time `json:"start,omitempty"` // first unauthorized event
	End            *time.Time `json:"end,omitempty"`   // last unauthorized event
	ReportTime     *time.Time `json:"report_time,omitempty"`
	ValuationBasis string     `json:"valuation_basis,omitempty"` // BasisOverride, BasisReportTime, BasisFraudReport, BasisLastEvent
	BasisTime      *time.Time `json:"valuation_basis_time,omitempty"`
	*Valuation
	Decision *Decision `json:"decision,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// Assess values a reconstructed incident and applies the policy with the incident's factors. The
// valuation date is override when not nil, else ValuationDay's.
func Assess(rec *reconstruct.Reconstruction, m reconstruct.Market, p *Policy, override *reconstruct.Day) (*Result, error) {
	inc := &rec.Incident
	res := &Result{Line: inc.Line, ID: inc.ID, Account: inc.Account, Orders: inc.Orders}
	if !rec.Start.IsZero() {
		s, e := rec.Start.In(reconstruct.JST), rec.End.In(reconstruct.JST)
		res.Start, res.End = &s, &e
	}
	if !inc.ReportTime.IsZero() {
		t := inc.ReportTime
		res.ReportTime = &t
	}
	var day reconstruct.Day
	if override != nil {
		day, res.ValuationBasis = *override, BasisOverride
	} else {
		var t time.Time
		day, res.ValuationBasis, t = ValuationDay(rec, m)
		t = t.In(reconstruct.JST)
		res.BasisTime = &t
	}
	v, err := Value(rec, m, day)
	if err != nil {
		return nil, reconstruct.NewClaimError(inc, "%v", err)
	}
	res.Valuation = v
	d, err := p.Decide(v, inc.Factors)
	if err != nil {
		return nil, reconstruct.NewClaimError(inc, "%v", err)
	}
	res.Decision = d
	return res, nil
}

// ErrorResult is the output line of an incident that could not be computed.
func ErrorResult(err error) *Result {
	res := &Result{Error: err.Error()}
	var ie *reconstruct.ClaimError
	if errors.As(err, &ie) {
		res.Line, res.ID, res.Account = ie.Line, ie.ID, ie.Account
	}
	return res
}
