package compensation

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

// Statuses of a compensation decision in the exports.
const (
	StatusPending     = "pending approval" // computed; no supervisor has approved it yet
	StatusNotComputed = "not computed"     // the incident could not be computed (see its error)
)

// DecisionsHeader is the header row of the CSV of compensation decisions.
var DecisionsHeader = []string{"incident", "line", "account", "valuation_date", "valuation_basis", "policy", "base",
	"restore_loss", "restore", "half_purchased", "half_total", "policy_amount", "factors", "recommended", "status", "error"}

// WriteDecisionsCSV writes one row per incident: its reference (the incident's id, its line in the
// incidents file), the account, the valuation date and its basis, the policy, the exact restore
// loss, the amounts under restore, half_purchased and half_total, the policy amount, the factors
// applied ("key adjustment = effect" separated by "; "), the recommended amount and the status
// (StatusPending, or StatusNotComputed with the error). Amounts are plain decimals, whole yen except
// the restore loss, which is exact.
func WriteDecisionsCSV(w io.Writer, results []*Result) error {
	return WriteDecisionsCSVStatus(w, results, nil)
}

// WriteDecisionsCSVStatus is WriteDecisionsCSV with the status of each computed result given
// (statuses[i] for results[i], e.g. "approved" once a supervisor has approved it); a missing or
// empty status is StatusPending.
func WriteDecisionsCSVStatus(w io.Writer, results []*Result, statuses []string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(DecisionsHeader); err != nil {
		return err
	}
	for i, r := range results {
		line := ""
		if r.Line > 0 {
			line = strconv.FormatInt(r.Line, 10)
		}
		row := []string{r.ID, line, r.Account, "", r.ValuationBasis, "", "", "", "", "", "", "", "", "", StatusNotComputed, r.Error}
		if r.Valuation != nil && r.Decision != nil {
			d := r.Decision
			var fs []string
			for _, f := range d.Factors {
				fs = append(fs, f.Key+" "+f.Adjustment+" = "+f.Effect.String())
			}
			status := StatusPending
			if i < len(statuses) && statuses[i] != "" {
				status = statuses[i]
			}
			row = []string{r.ID, line, r.Account, r.Valuation.Date, r.ValuationBasis, d.Policy, d.Base,
				r.RestoreLoss.String(), r.Amounts.Restore.String(), r.Amounts.HalfPurchased.String(), r.Amounts.HalfTotal.String(),
				d.PolicyAmount.String(), strings.Join(fs, "; "), d.Recommended.String(), status, ""}
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Key names the incident of a result: its id when it has one, else its line ("line 7").
func (r *Result) Key() string {
	if r.ID != "" {
		return r.ID
	}
	return "line " + strconv.FormatInt(r.Line, 10)
}
