package report

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/fault"
	"github.com/brokerguard/brokerguard/internal/reconstruct"
	"github.com/brokerguard/brokerguard/internal/store"
)

// Confirmed gives the confirmed incidents, reconstructed, for the tally; *incident.Register implements
// it.
type Confirmed interface {
	Confirmed(ctx context.Context) ([]*reconstruct.Reconstruction, error)
}

// FilerOptions configure a Filer; a Filer is complete once built.
type FilerOptions struct {
	// Incidents gives the confirmed incidents. Required.
	Incidents Confirmed
	// Trail keeps the filings (each one an audit record, never changed). Required.
	Trail *audit.Trail
}

// Filer serves the regulator's tally of the confirmed incidents and files it: each filing is written
// to the audit trail and never overwritten.
type Filer struct {
	incidents Confirmed
	trail     *audit.Trail
}

// NewFiler returns a filer.
func NewFiler(o FilerOptions) *Filer {
	if o.Incidents == nil || o.Trail == nil {
		panic("report: FilerOptions.Incidents and FilerOptions.Trail are required")
	}
	return &Filer{incidents: o.Incidents, trail: o.Trail}
}

// Tally counts the confirmed incidents (assessed or approved) by month of occurrence.
func (d *Filer) Tally(ctx context.Context) ([]TallyRow, error) {
	rows, _, err := d.tally(ctx)
	return rows, err
}

// tally counts the confirmed incidents; it returns the rows and how many incidents.
func (d *Filer) tally(ctx context.Context) ([]TallyRow, int, error) {
	recs, err := d.incidents.Confirmed(ctx)
	if err != nil {
		return nil, 0, err
	}
	if len(recs) == 0 {
		return []TallyRow{}, 0, nil
	}
	return Tally(recs), len(recs), nil
}

// ActionTallyFile records a filing of the regulator's tally: the rows exactly as sent.
const ActionTallyFile = "tally.file"

// storeVintages keeps filed tallies in the audit trail: a filing is a record that is never changed.
type storeVintages struct {
	d     *Filer
	ctx   context.Context
	actor string
	why   string
}

var _ Vintages = storeVintages{}

// Save records a filing; a name already filed is refused.
func (v storeVintages) Save(vt *Vintage) error {
	if err := ValidFiling(vt.Filing); err != nil {
		return fault.Errorf(fault.ErrInvalid, "%v", err)
	}
	filed, err := v.List()
	if err != nil {
		return err
	}
	for _, f := range filed {
		if f.Filing == vt.Filing {
			return fault.Errorf(fault.ErrConflict, "filing %q: %v", vt.Filing, ErrVintageExists)
		}
	}
	_, err = v.d.trail.Record(v.ctx, v.actor, ActionTallyFile, "tally:"+vt.Filing, v.why, vt, func(*store.AuditRecord) error { return nil })
	return err
}

// List returns every filing, oldest first.
func (v storeVintages) List() ([]Vintage, error) {
	var out []Vintage
	var after int64
	for {
		recs, err := v.d.trail.Store().Audit(v.ctx, store.AuditQuery{Action: ActionTallyFile, After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			var vt Vintage
			if err := json.Unmarshal(r.Data, &vt); err != nil {
				return nil, fmt.Errorf("audit record %d: %w", r.Seq, err)
			}
			out = append(out, vt)
			after = r.Seq
		}
		if len(recs) < 1000 {
			SortVintages(out)
			return out, nil
		}
	}
}

// FileTally files the current tally under a name (e.g. the month it is sent for); filings are never
// overwritten.
func (d *Filer) FileTally(ctx context.Context, actor, filing, reason string) (*Vintage, error) {
	if err := audit.NeedReason(reason); err != nil {
		return nil, err
	}
	rows, n, err := d.tally(ctx)
	if err != nil {
		return nil, err
	}
	vt := &Vintage{Filing: filing, FiledAt: d.trail.Wall().UTC(), Incidents: n, Rows: rows}
	if err := (storeVintages{d: d, ctx: ctx, actor: actor, why: reason}).Save(vt); err != nil {
		return nil, err
	}
	return vt, nil
}

// Filings returns every filed tally, oldest first.
func (d *Filer) Filings(ctx context.Context) ([]Vintage, error) {
	return storeVintages{d: d, ctx: ctx}.List()
}

// Revisions returns the tally as known now beside each month's figures as last filed.
func (d *Filer) Revisions(ctx context.Context) ([]Revision, error) {
	rows, _, err := d.tally(ctx)
	if err != nil {
		return nil, err
	}
	filed, err := d.Filings(ctx)
	if err != nil {
		return nil, err
	}
	return Revise(rows, filed), nil
}
