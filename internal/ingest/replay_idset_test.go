package ingest

import "testing"

// TestIDSet: the replay's set of accepted ids tells new from repeated hashes across its growth, zero
// included.
func TestIDSet(t *testing.T) {
	s := newIDSet(4)
	for round := range 2 {
		for i := uint64(0); i < 10000; i++ {
			h := i * 0x9e3779b97f4a7c15 // 0 for i = 0
			if got := s.add(h); got != (round == 0) {
				t.Fatalf("round %d: add(%#x) = %v, want %v", round, h, got, round == 0)
			}
		}
	}
	if s.n != 9999 || !s.zero {
		t.Errorf("got %d hashes and zero %v, want 9999 and true", s.n, s.zero)
	}
}
