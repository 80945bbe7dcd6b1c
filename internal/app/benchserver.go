package app

import (
	"fmt"
	"net/http"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// serverLatency reads the server's own latency histogram of POST /v1/events (200 answers) from its
// /metrics and returns the estimated quantiles, as Prometheus's histogram_quantile would: what the
// server spent on requests, without the load generator's own queueing on shared cores.
func serverLatency(target, key string, qs ...float64) ([]float64, uint64, error) {
	req, err := http.NewRequest("GET", strings.TrimSuffix(target, "/")+"/metrics", nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, 0, fmt.Errorf("metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("metrics: %w", err)
	}
	mf := mfs["brokerguard_http_request_seconds"]
	if mf == nil {
		return nil, 0, fmt.Errorf("metrics: no brokerguard_http_request_seconds")
	}
	var h *dto.Histogram
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["route"] == "POST /v1/events" && labels["code"] == "200" {
			h = m.GetHistogram()
		}
	}
	if h == nil || h.GetSampleCount() == 0 {
		return nil, 0, fmt.Errorf("metrics: no POST /v1/events answers recorded")
	}
	out := make([]float64, len(qs))
	for i, q := range qs {
		out[i] = histogramQuantile(q, h)
	}
	return out, h.GetSampleCount(), nil
}

// histogramQuantile interpolates linearly within the bucket that holds the quantile.
func histogramQuantile(q float64, h *dto.Histogram) float64 {
	rank := q * float64(h.GetSampleCount())
	lower, below := 0.0, 0.0
	for _, b := range h.GetBucket() {
		n := float64(b.GetCumulativeCount())
		if n >= rank {
			if n == below {
				return b.GetUpperBound()
			}
			return lower + (b.GetUpperBound()-lower)*(rank-below)/(n-below)
		}
		lower, below = b.GetUpperBound(), n
	}
	return lower
}
