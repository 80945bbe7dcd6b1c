package detect

import (
	"testing"

	"github.com/brokerguard/brokerguard/internal/event"
)

// examples builds n customers' logins and n/10 attackers' logins: attackers always raise NEW_COUNTRY,
// customers raise NEW_DEVICE as often as attackers do, and only customers raise UNUSUAL_HOUR.
func fitExamples(n int) []Example {
	var out []Example
	for i := 0; i < n; i++ {
		var ex Example
		ex.Type, ex.Weight = event.TypeLogin, 1
		if i%2 == 0 {
			ex.Strength[NewDevice] = 1
		}
		if i%3 == 0 {
			ex.Strength[UnusualHour] = 1
		}
		if i%50 == 0 {
			ex.Strength[NewCountry] = 1 // a customer abroad now and then
		}
		out = append(out, ex)
	}
	for i := 0; i < n/10; i++ {
		var ex Example
		ex.Type, ex.Weight, ex.Attack = event.TypeLogin, 1, true
		ex.Strength[NewCountry] = 1
		if i%2 == 0 {
			ex.Strength[NewDevice] = 1
		}
		out = append(out, ex)
	}
	return out
}

func TestFitMovesWeightsTowardTheEvidence(t *testing.T) {
	prior := DefaultModel()
	fitted, rep, err := Fit(prior, fitExamples(2000), FitOptions{L2: 0.0001, Iterations: 600})
	if err != nil {
		t.Fatal(err)
	}
	if rep.LossAfter >= rep.LossBefore {
		t.Errorf("loss %.4f -> %.4f; want it lower", rep.LossBefore, rep.LossAfter)
	}
	if got, was := fitted.Weight(NewCountry), prior.Weight(NewCountry); got <= was {
		t.Errorf("NEW_COUNTRY, raised by every attacker: weight %.3f, was %.3f; want higher", got, was)
	}
	if got, was := fitted.Weight(UnusualHour), prior.Weight(UnusualHour); got >= was {
		t.Errorf("UNUSUAL_HOUR, raised by customers only: weight %.3f, was %.3f; want lower", got, was)
	}
	for s := Signal(0); s < NumSignals; s++ {
		if fitted.Weight(s) < 0 {
			t.Errorf("%s: weight %.3f; want none below zero", s, fitted.Weight(s))
		}
	}
	for i, in := range fitted.Interactions {
		if in.Weight < 0 || in.Code != prior.Interactions[i].Code {
			t.Errorf("interaction %d: %s %.3f; want %s, not below zero", i, in.Code, in.Weight, prior.Interactions[i].Code)
		}
	}
	if fitted.bias[event.TypeLogin] == prior.bias[event.TypeLogin] {
		t.Error("the login bias did not move; without KeepBias Fit fits it")
	}
	// The prior is left as it was.
	if prior.Weight(NewCountry) != DefaultModel().Weight(NewCountry) {
		t.Error("Fit changed the prior")
	}
}

func TestFitKeepsBiasAndPullsTowardThePrior(t *testing.T) {
	prior := DefaultModel()
	exs := fitExamples(2000)
	kept, _, err := Fit(prior, exs, FitOptions{L2: 0.0001, Iterations: 300, KeepBias: true})
	if err != nil {
		t.Fatal(err)
	}
	if kept.bias != prior.bias {
		t.Errorf("bias %v; want the prior's %v", kept.bias, prior.bias)
	}
	// A strong pull toward the prior keeps every weight close to it.
	pulled, _, err := Fit(prior, exs, FitOptions{L2: 100, Iterations: 300, KeepBias: true})
	if err != nil {
		t.Fatal(err)
	}
	for s := Signal(0); s < NumSignals; s++ {
		if d := pulled.Weight(s) - prior.Weight(s); d > 0.05 || d < -0.05 {
			t.Errorf("%s: weight %.3f under a strong pull, prior %.3f", s, pulled.Weight(s), prior.Weight(s))
		}
	}
	if _, _, err := Fit(prior, nil, FitOptions{}); err == nil {
		t.Error("Fit of no examples: want an error")
	}
}

func TestRecorderQueuesSignalsInOrder(t *testing.T) {
	r := &Recorder{Model: DefaultModel()}
	var ss Signals
	ss.Set(NewDevice, 1, 0, 0, "")
	score, _ := r.Score(event.TypeLogin, &ss, nil)
	if want, _ := DefaultModel().Score(event.TypeLogin, &ss, nil); score != want {
		t.Errorf("score %d; want the model's %d", score, want)
	}
	var ss2 Signals
	r.Score(event.TypeOrder, &ss2, nil)
	a, ok1 := r.Next()
	b, ok2 := r.Next()
	_, ok3 := r.Next()
	if !ok1 || !ok2 || ok3 || a.Type != event.TypeLogin || a.Strength[NewDevice] != 1 || b.Type != event.TypeOrder {
		t.Errorf("Next: %v %v %v, %v %v; want the login, then the order, then nothing", ok1, ok2, ok3, a.Type, b.Type)
	}
}
