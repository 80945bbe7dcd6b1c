package casework

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/brokerguard/brokerguard/internal/compensation"
	"github.com/brokerguard/brokerguard/internal/fault"
	"github.com/brokerguard/brokerguard/internal/report"
	"github.com/brokerguard/brokerguard/internal/store"
)

// ActionTallyFile records a filing of the regulator's tally: the rows exactly as sent.
const ActionTallyFile = "tally.file"

// storeVintages keeps filed tallies in the audit trail: a filing is a record that is never changed.
type storeVintages struct {
	d     *Desk
	ctx   context.Context
	actor string
	why   string
}

var _ report.Vintages = storeVintages{}

// Save records a filing; a name already filed is refused.
func (v storeVintages) Save(vt *report.Vintage) error {
	if err := report.ValidFiling(vt.Filing); err != nil {
		return fault.Errorf(fault.ErrInvalid, "%v", err)
	}
	filed, err := v.List()
	if err != nil {
		return err
	}
	for _, f := range filed {
		if f.Filing == vt.Filing {
			return fault.Errorf(fault.ErrConflict, "filing %q: %v", vt.Filing, report.ErrVintageExists)
		}
	}
	_, err = v.d.record(v.ctx, v.actor, ActionTallyFile, "tally:"+vt.Filing, v.why, vt, func(*store.AuditRecord) error { return nil })
	return err
}

// List returns every filing, oldest first.
func (v storeVintages) List() ([]report.Vintage, error) {
	var out []report.Vintage
	var after int64
	for {
		recs, err := v.d.store.Audit(v.ctx, store.AuditQuery{Action: ActionTallyFile, After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			var vt report.Vintage
			if err := json.Unmarshal(r.Data, &vt); err != nil {
				return nil, fmt.Errorf("audit record %d: %w", r.Seq, err)
			}
			out = append(out, vt)
			after = r.Seq
		}
		if len(recs) < 1000 {
			report.SortVintages(out)
			return out, nil
		}
	}
}

// FileTally files the current tally under a name (e.g. the month it is sent for); filings are never
// overwritten.
func (d *Desk) FileTally(ctx context.Context, actor, filing, reason string) (*report.Vintage, error) {
	if err := needReason(reason); err != nil {
		return nil, err
	}
	rows, n, err := d.tally(ctx)
	if err != nil {
		return nil, err
	}
	vt := &report.Vintage{Filing: filing, FiledAt: d.wall().UTC(), Incidents: n, Rows: rows}
	if err := (storeVintages{d: d, ctx: ctx, actor: actor, why: reason}).Save(vt); err != nil {
		return nil, err
	}
	return vt, nil
}

// Filings returns every filed tally, oldest first.
func (d *Desk) Filings(ctx context.Context) ([]report.Vintage, error) {
	return storeVintages{d: d, ctx: ctx}.List()
}

// Revisions returns the tally as known now beside each month's figures as last filed.
func (d *Desk) Revisions(ctx context.Context) ([]report.Revision, error) {
	rows, _, err := d.tally(ctx)
	if err != nil {
		return nil, err
	}
	filed, err := d.Filings(ctx)
	if err != nil {
		return nil, err
	}
	return report.Revise(rows, filed), nil
}

// WriteEvidence writes the evidence file of an assessed incident: its timeline, valuation, policy,
// factors, recommendation and approval.
func (d *Desk) WriteEvidence(ctx context.Context, id string, w io.Writer) error {
	inc, err := d.Incident(ctx, id)
	if err != nil {
		return err
	}
	if inc.Assessment == nil || inc.Assessment.Result == nil {
		return fault.Errorf(fault.ErrConflict, "incident %q has no assessment yet", id)
	}
	rec, _, err := d.Reconstruct(ctx, &inc)
	if err != nil {
		return err
	}
	p, ok := compensation.Builtin(inc.Assessment.Policy)
	if !ok {
		if d.policy == nil || d.policy.Name != inc.Assessment.Policy {
			return errors.New("evidence: the policy of the assessment is no longer configured")
		}
		p = d.policy
	}
	ev := &compensation.Evidence{Heading: "Account takeover incident " + inc.ID, Generated: d.wall(), Rec: rec,
		Result: inc.Assessment.Result, Policy: p}
	if a := inc.Approval; a != nil {
		ev.Approvals = []compensation.Approval{{Time: a.Time, Actor: a.By, Role: "supervisor", Decision: "approved", Note: a.Reason}}
	}
	return compensation.WriteEvidence(w, ev)
}

// Results returns the assessment of every assessed or approved incident, for the CSV of
// compensation decisions, with each one's status.
func (d *Desk) Results() (results []*compensation.Result, statuses []string) {
	reg := d.register()
	reg.mu.Lock()
	defer reg.mu.Unlock()
	var incs []*Incident
	for _, inc := range reg.m {
		if inc.Assessment != nil && inc.Assessment.Result != nil {
			incs = append(incs, inc)
		}
	}
	sortIncidents(incs)
	for _, inc := range incs {
		results = append(results, inc.Assessment.Result)
		statuses = append(statuses, inc.Status)
	}
	return results, statuses
}
