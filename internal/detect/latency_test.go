package detect

import (
	"testing"
)

// BenchmarkDecide measures the engine on the events that need a decision only (logins, changes,
// orders, withdrawals), after the rest of the stream has built the profiles.
func BenchmarkDecide(b *testing.B) {
	evs := synthetic(5000, 8, 1)
	e, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	var decided []int
	for i := range evs {
		e.Process(&evs[i])
		if evs[i].NeedsDecision() {
			decided = append(decided, i)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Process(&evs[decided[i%len(decided)]])
	}
}
