package app

import (
	"bytes"
	"context"
	"math"
	"regexp"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

func TestHistogramQuantile(t *testing.T) {
	// 100 answers: 50 within 1 ms, 40 more within 2 ms, 10 more within 10 ms.
	h := &dto.Histogram{SampleCount: proto.Uint64(100), Bucket: []*dto.Bucket{
		{UpperBound: proto.Float64(0.001), CumulativeCount: proto.Uint64(50)},
		{UpperBound: proto.Float64(0.002), CumulativeCount: proto.Uint64(90)},
		{UpperBound: proto.Float64(0.010), CumulativeCount: proto.Uint64(100)},
	}}
	for _, c := range []struct{ q, want float64 }{
		{0.25, 0.0005}, // halfway into the first bucket
		{0.5, 0.001},   // its upper bound
		{0.7, 0.0015},  // halfway into the second
		{0.99, 0.0092}, // 9 of the last 10 answers' bucket
	} {
		if got := histogramQuantile(c.q, h); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("q %v: %v, want %v", c.q, got, c.want)
		}
	}
}

// TestBenchOverload runs bench --overload briefly on a small firm: it serves, loads and reports each
// figure the mode promises.
func TestBenchOverload(t *testing.T) {
	var out, errOut bytes.Buffer
	err := Run(context.Background(), []string{"bench", "--scenario", "small", "--accounts", "50", "--days", "1", "--runs", "0",
		"--overload", "--http-rate", "100", "--http-duration", "1s"}, IO{Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Fatalf("bench --overload: %v\n%s", err, errOut.String())
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`offered at 200/s \(2 x 100\) for [\d.]+m?s: offered \d+/s, accepted [1-9]\d*/s, shed [\d.]+% \(429\), 0 other answers, 0 transport errors`),
		regexp.MustCompile(`from their release \(open loop\): p50 \S+, p99 \S+`),
		regexp.MustCompile(`peak heap \d+ MB, peak goroutines \d+ .*peak events in flight \d+ of 2000 \(at most 8 requests\)`),
	} {
		if !want.MatchString(out.String()) {
			t.Errorf("got\n%s\nwant a line matching %s", out.String(), want)
		}
	}
}
