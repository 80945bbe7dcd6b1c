package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/brokerguard/brokerguard/internal/fault"
)

// Answers take a customer's answer to a notice, given in the firm's app ("was this you?"). "no" is a
// fraud report from the customer: it goes through the same path as one reported on the phone (the
// account is locked, an incident opened, the campaign's other accounts looked at). "yes" is kept as a
// label for learning.
type Answers struct {
	Outbox *Outbox
	// Report takes a fraud_report event (JSON) like any other event; duplicate is true when one with
	// its id was taken before.
	Report func(ctx context.Context, raw []byte) (duplicate bool, err error)
	// Label records once that the customer confirmed the notice; duplicate is true for a second time.
	Label func(ctx context.Context, actor string, n Notice) (duplicate bool, err error)
	// Now is the data's time: the fraud report is dated then.
	Now func() time.Time
}

// Answer is what an answer did.
type Answer struct {
	Notice      string
	Account     string
	Answer      string
	FraudReport string // the fraud_report event's id, for "no"
	Duplicate   bool   // the same answer was taken before
}

// Take records answer ("yes" or "no") to the notice id.
func (a *Answers) Take(ctx context.Context, id, answer, actor string) (Answer, error) {
	n, ok, err := a.Outbox.Find(id)
	if err != nil {
		return Answer{}, err
	}
	if !ok {
		return Answer{}, fault.Errorf(fault.ErrNotFound, "no notice %q", id)
	}
	res := Answer{Notice: n.ID, Account: n.Account, Answer: answer}
	switch answer {
	case "no":
		res.FraudReport = "fraud-report-" + n.ID
		raw, err := json.Marshal(map[string]any{
			"id": res.FraudReport, "type": "fraud_report", "time": a.Now().Format(time.RFC3339Nano), "account": n.Account, "channel": "web",
			"note": fmt.Sprintf("the customer answered \"this was not me\" to notice %s (%s of %s)", n.ID, n.Kind, n.Time.Format(time.RFC3339)),
		})
		if err != nil {
			return Answer{}, err
		}
		res.Duplicate, err = a.Report(ctx, raw)
		return res, err
	case "yes":
		res.Duplicate, err = a.Label(ctx, actor, n)
		return res, err
	}
	return Answer{}, fault.Errorf(fault.ErrInvalid, "answer %q: want yes or no", answer)
}
