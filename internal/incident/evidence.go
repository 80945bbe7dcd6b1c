package incident

import (
	"context"
	"errors"
	"io"

	"github.com/brokerguard/brokerguard/internal/compensation"
	"github.com/brokerguard/brokerguard/internal/fault"
)

// WriteEvidence writes the evidence file of an assessed incident: its timeline, valuation, policy,
// factors, recommendation and approval.
func (d *Register) WriteEvidence(ctx context.Context, id string, w io.Writer) error {
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
	ev := &compensation.Evidence{Heading: "Account takeover incident " + inc.ID, Generated: d.trail.Wall(), Rec: rec,
		Result: inc.Assessment.Result, Policy: p}
	if a := inc.Approval; a != nil {
		ev.Approvals = []compensation.Approval{{Time: a.Time, Actor: a.By, Role: "supervisor", Decision: "approved", Note: a.Reason}}
	}
	return compensation.WriteEvidence(w, ev)
}

// Results returns the assessment of every assessed or approved incident, for the CSV of
// compensation decisions, with each one's status.
func (d *Register) Results() (results []*compensation.Result, statuses []string) {
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
