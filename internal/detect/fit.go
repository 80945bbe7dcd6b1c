package detect

import (
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/brokerguard/brokerguard/internal/event"
)

// Fitting the model's weights from labelled examples (brokerguard fit). The model keeps its form: the
// same named signals and interactions, a bias per event type, and a weight per signal and interaction
// that can only add to the risk (never below zero), so every reason a decision gives stays a named
// signal that made it more suspicious. Fitting moves the weights from the model it starts from (the
// prior) only as far as the examples justify: the loss is the weighted logistic loss plus L2 toward
// the prior's weights.

// Example is one decided event: its type, the strengths of its signals, whether it was an attacker's
// and how much it counts in the loss.
type Example struct {
	Type     event.Type
	Strength [NumSignals]float32
	Attack   bool
	Weight   float64
}

// Recorder is a Scorer that scores with Model and queues the signals of every event it scores, so that
// a caller observing the engine's decided outcomes in order (on another goroutine) can pair each
// decision with its signals (Next). It is safe for one scoring and one observing goroutine.
type Recorder struct {
	Model *Model

	mu    sync.Mutex
	queue []Example
}

// Score implements Scorer.
func (r *Recorder) Score(t event.Type, ss *Signals, buf []Contribution) (int, []Contribution) {
	r.mu.Lock()
	r.queue = append(r.queue, Example{Type: t, Strength: ss.Strength})
	r.mu.Unlock()
	return r.Model.Score(t, ss, buf)
}

// Next returns the signals of the oldest scored event not returned yet.
func (r *Recorder) Next() (Example, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) == 0 {
		return Example{}, false
	}
	ex := r.queue[0]
	r.queue = r.queue[1:]
	if len(r.queue) == 0 {
		r.queue = nil
	}
	return ex, true
}

// FitOptions tune Fit.
type FitOptions struct {
	// L2 is the strength of the pull toward the prior's weights (per weight, in units of the
	// examples' total weight); 0 fits the examples alone.
	L2 float64
	// Iterations of the optimiser (default 400).
	Iterations int
	// KeepBias keeps the prior's bias per event type: only the weights move. A simulated firm's share
	// of attackers per event type is the simulator's, not a firm's.
	KeepBias bool
}

// FitReport describes a fit.
type FitReport struct {
	Examples, Attacks int
	LossBefore        float64 // mean weighted logistic loss of the prior on the examples
	LossAfter         float64
	Features          int
}

// feature is one term of the logit: a signal's strength or an interaction's product.
type sparse struct {
	idx []int32
	val []float32
}

// Fit returns a copy of prior with weights and biases fitted to the examples.
func Fit(prior *Model, examples []Example, o FitOptions) (*Model, FitReport, error) {
	if o.Iterations <= 0 {
		o.Iterations = 400
	}
	rep := FitReport{Examples: len(examples)}
	if len(examples) == 0 {
		return nil, rep, fmt.Errorf("fit: no examples")
	}
	// The fitted terms: every signal the prior weighs, then every interaction.
	var sigs []Signal
	for i := Signal(0); i < NumSignals; i++ {
		if prior.weights[i] != 0 {
			sigs = append(sigs, i)
		}
	}
	nf := len(sigs) + len(prior.Interactions)
	rep.Features = nf
	w0 := make([]float64, nf)
	for j, s := range sigs {
		w0[j] = prior.weights[s]
	}
	for k := range prior.Interactions {
		w0[len(sigs)+k] = prior.Interactions[k].Weight
	}
	bias0 := prior.bias
	xs := make([]sparse, len(examples))
	var total float64
	for n := range examples {
		ex := &examples[n]
		var x sparse
		for j, s := range sigs {
			if v := ex.Strength[s]; v > 0 {
				x.idx, x.val = append(x.idx, int32(j)), append(x.val, v)
			}
		}
		for k := range prior.Interactions {
			in := &prior.Interactions[k]
			a, b := maxStrength(&ex.Strength, in.a), maxStrength(&ex.Strength, in.b)
			if a > 0 && b > 0 {
				x.idx, x.val = append(x.idx, int32(len(sigs)+k)), append(x.val, a*b)
			}
		}
		xs[n] = x
		total += ex.Weight
		if ex.Attack {
			rep.Attacks++
		}
	}
	if total <= 0 {
		return nil, rep, fmt.Errorf("fit: the examples weigh nothing")
	}
	loss := func(w []float64, bias *[event.TypeFraudReport + 1]float64, grad []float64, gbias *[event.TypeFraudReport + 1]float64) float64 {
		var l float64
		for n := range examples {
			ex := &examples[n]
			z := bias[ex.Type]
			x := &xs[n]
			for i, j := range x.idx {
				z += w[j] * float64(x.val[i])
			}
			// Weighted logistic loss, computed stably.
			var li, p float64
			if ex.Attack {
				li = softplus(-z)
				p = sigmoid(z) - 1
			} else {
				li = softplus(z)
				p = sigmoid(z)
			}
			l += ex.Weight * li
			if grad != nil {
				g := ex.Weight * p / total
				gbias[ex.Type] += g
				for i, j := range x.idx {
					grad[j] += g * float64(x.val[i])
				}
			}
		}
		l /= total
		for j := range w {
			d := w[j] - w0[j]
			l += 0.5 * o.L2 * d * d
			if grad != nil {
				grad[j] += o.L2 * d
			}
		}
		return l
	}
	w := append([]float64(nil), w0...)
	bias := bias0
	rep.LossBefore = loss(w, &bias, nil, nil)
	// Adam with the weights projected onto w ≥ 0 after each step.
	const lr, b1, b2, eps = 0.05, 0.9, 0.999, 1e-8
	m, v := make([]float64, nf), make([]float64, nf)
	var mb, vb [event.TypeFraudReport + 1]float64
	grad := make([]float64, nf)
	for it := 1; it <= o.Iterations; it++ {
		clear(grad)
		var gb [event.TypeFraudReport + 1]float64
		loss(w, &bias, grad, &gb)
		c1, c2 := 1-math.Pow(b1, float64(it)), 1-math.Pow(b2, float64(it))
		for j := range w {
			m[j] = b1*m[j] + (1-b1)*grad[j]
			v[j] = b2*v[j] + (1-b2)*grad[j]*grad[j]
			w[j] -= lr * (m[j] / c1) / (math.Sqrt(v[j]/c2) + eps)
			if w[j] < 0 {
				w[j] = 0
			}
		}
		for t := range bias {
			if o.KeepBias {
				break
			}
			mb[t] = b1*mb[t] + (1-b1)*gb[t]
			vb[t] = b2*vb[t] + (1-b2)*gb[t]*gb[t]
			bias[t] -= lr * (mb[t] / c1) / (math.Sqrt(vb[t]/c2) + eps)
		}
	}
	rep.LossAfter = loss(w, &bias, nil, nil)

	out := *prior
	out.Weights = map[string]float64{}
	for code, wt := range prior.Weights {
		out.Weights[code] = wt
	}
	out.Bias = map[string]float64{}
	for t, b := range prior.Bias {
		out.Bias[t] = b
	}
	for j, s := range sigs {
		out.weights[s] = round3(w[j])
		out.Weights[s.String()] = out.weights[s]
	}
	out.Interactions = append([]Interaction(nil), prior.Interactions...)
	for k := range out.Interactions {
		out.Interactions[k].Weight = round3(w[len(sigs)+k])
	}
	types := make([]string, 0, len(prior.Bias))
	for t := range prior.Bias {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, name := range types {
		t := event.ParseType(name)
		out.bias[t] = round3(bias[t])
		out.Bias[name] = out.bias[t]
	}
	return &out, rep, nil
}

func maxStrength(st *[NumSignals]float32, set []Signal) float32 {
	var m float32
	for _, s := range set {
		if st[s] > m {
			m = st[s]
		}
	}
	return m
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// softplus is log(1+e^z), without overflow.
func softplus(z float64) float64 {
	if z > 30 {
		return z
	}
	return math.Log1p(math.Exp(z))
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
