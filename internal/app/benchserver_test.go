package app

import (
	"math"
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
