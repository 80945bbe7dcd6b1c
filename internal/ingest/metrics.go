package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/rules"
)

// Metrics are the ingestion and decision counters, exported in Prometheus format by serve and counted
// in every run's summary.
type Metrics struct {
	events     [event.TypeFraudReport + 1]prometheus.Counter
	decisions  [5]prometheus.Counter
	errors     map[string]prometheus.Counter
	alerts     map[string]prometheus.Counter
	duplicates prometheus.Counter
	late       prometheus.Counter
	latency    prometheus.Histogram
}

// NewMetrics creates the collectors and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	ev := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "brokerguard_events_total", Help: "Accepted events by type."}, []string{"type"})
	dec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "brokerguard_decisions_total", Help: "Decisions by action."}, []string{"action"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "brokerguard_event_errors_total", Help: "Rejected events by error code."}, []string{"code"})
	al := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "brokerguard_alerts_total", Help: "Alerts by kind."}, []string{"kind"})
	m := &Metrics{
		errors: map[string]prometheus.Counter{},
		alerts: map[string]prometheus.Counter{},
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "brokerguard_duplicate_events_total",
			Help: "Events ignored because their id was already accepted."}),
		late: prometheus.NewCounter(prometheus.CounterOpts{Name: "brokerguard_late_events_total",
			Help: "Events placed before events of their account that arrived earlier but happened later."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "brokerguard_decision_seconds",
			Help:    "Time to process one event in the engine (profile update, signals, score, rules).",
			Buckets: []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2}}),
	}
	for _, t := range event.Types() {
		m.events[t] = ev.WithLabelValues(t.String())
	}
	for _, a := range event.Actions() {
		m.decisions[a] = dec.WithLabelValues(a.String())
	}
	for _, c := range event.Codes() {
		m.errors[c] = errs.WithLabelValues(c)
	}
	m.errors["duplicate_id"] = errs.WithLabelValues("duplicate_id")
	for _, k := range []string{event.AlertAccountTakeover, event.AlertCampaign, event.AlertBeneficiary,
		event.AlertCredentialStuffing, event.AlertSharedInfrastructure} {
		m.alerts[k] = al.WithLabelValues(k)
	}
	if reg != nil {
		reg.MustRegister(ev, dec, errs, al, m.duplicates, m.late, m.latency)
	}
	return m
}

func (m *Metrics) errorCode(code string) {
	if c, ok := m.errors[code]; ok {
		c.Inc()
	}
}

// RuleCollector exports each rule's hits, errors and time from a live and a shadow rule set.
type RuleCollector struct {
	Live, Shadow *rules.Set
	hits, errs   *prometheus.Desc
	evals, secs  *prometheus.Desc
}

// NewRuleCollector returns a collector of the rule sets' counters.
func NewRuleCollector(live, shadow *rules.Set) *RuleCollector {
	l := []string{"rule", "set", "version"}
	return &RuleCollector{Live: live, Shadow: shadow,
		hits:  prometheus.NewDesc("brokerguard_rule_hits_total", "Rule matches.", l, nil),
		errs:  prometheus.NewDesc("brokerguard_rule_errors_total", "Rule evaluation errors.", l, nil),
		evals: prometheus.NewDesc("brokerguard_rule_evaluations_total", "Rule evaluations.", l, nil),
		secs:  prometheus.NewDesc("brokerguard_rule_seconds_total", "Time spent evaluating the rule.", l, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *RuleCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.hits
	ch <- c.errs
	ch <- c.evals
	ch <- c.secs
}

// Collect implements prometheus.Collector.
func (c *RuleCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range []struct {
		name string
		set  *rules.Set
	}{{"live", c.Live}, {"shadow", c.Shadow}} {
		if s.set == nil {
			continue
		}
		for _, st := range s.set.Stats() {
			lv := []string{st.Rule, s.name, s.set.Version}
			ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(st.Hits), lv...)
			ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(st.Errors), lv...)
			ch <- prometheus.MustNewConstMetric(c.evals, prometheus.CounterValue, float64(st.Evals), lv...)
			ch <- prometheus.MustNewConstMetric(c.secs, prometheus.CounterValue, float64(st.Nanos)/1e9, lv...)
		}
	}
}
