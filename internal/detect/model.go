package detect

import (
	"bytes"
	_ "embed"
	"fmt"
	"math"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/brokerguard/brokerguard/internal/event"
)

// Scorer turns an event's signals into a score of 0..1000 and the contributions behind it. The shipped
// Model is a hand-set logistic model; a learned model that implements Scorer replaces it without touching
// signal code.
type Scorer interface {
	// Score appends the contributions, largest first, to buf and returns them with the score.
	Score(t event.Type, ss *Signals, buf []Contribution) (score int, contribs []Contribution)
}

// Contribution is how much one signal or interaction added to the log-odds.
type Contribution struct {
	Code   string
	Signal Signal // valid when Pair is false
	Pair   int    // index+1 of an interaction, 0 for a plain signal
	Value  float64
}

// Model is a logistic scoring model: score = 1000·σ(bias[type] + Σ weight·strength + Σ interactions).
// Each weight is the log-odds a fully raised signal adds. An interaction adds its weight times the
// strongest signal of set A times the strongest of set B: a new device matters more when the session
// then liquidates holdings.
type Model struct {
	Version      string             `yaml:"version"`
	Bias         map[string]float64 `yaml:"bias"`
	Inherit      float64            `yaml:"inherit"`
	Weights      map[string]float64 `yaml:"weights"`
	Interactions []Interaction      `yaml:"interactions"`

	bias    [event.TypeFraudReport + 1]float64
	weights [NumSignals]float64
}

// Interaction is a context-dependent term of the model.
type Interaction struct {
	Code   string   `yaml:"code"`
	Detail string   `yaml:"detail"`
	A      []string `yaml:"a"`
	B      []string `yaml:"b"`
	Weight float64  `yaml:"weight"`

	a, b []Signal
}

//go:embed model.yaml
var defaultModel []byte

// DefaultModel returns the shipped model.
func DefaultModel() *Model {
	m, err := ParseModel(defaultModel, "model.yaml (embedded)")
	if err != nil {
		panic(err) // the embedded model is tested
	}
	return m
}

// LoadModel reads a model file.
func LoadModel(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	return ParseModel(b, path)
}

// ParseModel parses and validates a model; name is used in errors.
func ParseModel(b []byte, name string) (*Model, error) {
	var m Model
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if m.Version == "" {
		return nil, fmt.Errorf("%s: version: required", name)
	}
	if m.Inherit < 0 || m.Inherit > 1 {
		return nil, fmt.Errorf("%s: inherit: %v, want 0..1", name, m.Inherit)
	}
	for t, v := range m.Bias {
		typ := event.ParseType(t)
		if typ == event.TypeUnknown {
			return nil, fmt.Errorf("%s: bias: unknown event type %q", name, t)
		}
		m.bias[typ] = v
	}
	for code, w := range m.Weights {
		s, ok := ParseSignal(code)
		if !ok {
			return nil, fmt.Errorf("%s: weights: unknown signal %q", name, code)
		}
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("%s: weights: %s: not a number", name, code)
		}
		m.weights[s] = w
	}
	for i := range m.Interactions {
		in := &m.Interactions[i]
		if in.Code == "" {
			return nil, fmt.Errorf("%s: interactions[%d]: code: required", name, i)
		}
		for _, side := range []struct {
			names []string
			out   *[]Signal
			key   string
		}{{in.A, &in.a, "a"}, {in.B, &in.b, "b"}} {
			if len(side.names) == 0 {
				return nil, fmt.Errorf("%s: interactions[%d] (%s): %s: at least one signal", name, i, in.Code, side.key)
			}
			for _, n := range side.names {
				s, ok := ParseSignal(n)
				if !ok {
					return nil, fmt.Errorf("%s: interactions[%d] (%s): %s: unknown signal %q", name, i, in.Code, side.key, n)
				}
				*side.out = append(*side.out, s)
			}
		}
	}
	return &m, nil
}

// Weight returns the weight of a signal.
func (m *Model) Weight(s Signal) float64 { return m.weights[s] }

// Score implements Scorer.
func (m *Model) Score(t event.Type, ss *Signals, buf []Contribution) (int, []Contribution) {
	logit := m.bias[t]
	contribs := buf[:0]
	for i, v := range ss.Strength {
		if v == 0 || m.weights[i] == 0 {
			continue
		}
		c := m.weights[i] * float64(v)
		logit += c
		contribs = append(contribs, Contribution{Code: signalNames[i], Signal: Signal(i), Value: c})
	}
	for i := range m.Interactions {
		in := &m.Interactions[i]
		a, b := maxOf(ss, in.a), maxOf(ss, in.b)
		if a == 0 || b == 0 {
			continue
		}
		c := in.Weight * a * b
		logit += c
		contribs = append(contribs, Contribution{Code: in.Code, Pair: i + 1, Value: c})
	}
	// Insertion sort: a handful of entries, and no allocation.
	for i := 1; i < len(contribs); i++ {
		for j := i; j > 0 && contribs[j].Value > contribs[j-1].Value; j-- {
			contribs[j], contribs[j-1] = contribs[j-1], contribs[j]
		}
	}
	score := int(math.Round(1000 / (1 + math.Exp(-logit))))
	return score, contribs
}

func maxOf(ss *Signals, set []Signal) float64 {
	var m float32
	for _, s := range set {
		if ss.Strength[s] > m {
			m = ss.Strength[s]
		}
	}
	return float64(m)
}
