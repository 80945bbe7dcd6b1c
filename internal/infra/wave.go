package infra

import "sync"

// Waves watches failed logins across all accounts, minute by minute, to tell when a credential-stuffing
// wave is under way: many more failures in the last ten minutes than the hours before would explain.
type Waves struct {
	mu       sync.Mutex
	minute   int64      // the minute of buckets[cur]
	cur      int        // index of the current minute
	buckets  [60]uint32 // failures per minute, the last hour
	baseline float64    // failures per minute, slowly moving average
	seen     bool
}

// waveWindow is how many recent minutes are compared with the baseline.
const waveWindow = 10

// Failure records one failed login at unix time t.
func (w *Waves) Failure(t uint32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(int64(t) / 60)
	w.buckets[w.cur]++
}

// advance moves the current minute to m, folding the minutes that pass into the baseline.
func (w *Waves) advance(m int64) {
	if !w.seen {
		w.minute, w.seen = m, true
		return
	}
	for w.minute < m {
		// Each minute that passes feeds the baseline (a six-hour time constant), unless it is itself
		// far above it: a wave must not teach the baseline that waves are normal.
		if f := float64(w.buckets[w.cur]); f <= 3*w.baseline+3 {
			w.baseline += (f - w.baseline) / 360
		}
		w.minute++
		w.cur = (w.cur + 1) % len(w.buckets)
		w.buckets[w.cur] = 0
		if m-w.minute > int64(len(w.buckets)) {
			// A long quiet gap: empty buckets decay the baseline in one step.
			gap := m - w.minute
			for i := int64(0); i < min(gap, 3600); i++ {
				w.baseline -= w.baseline / 360
			}
			w.minute = m
			w.buckets = [60]uint32{}
		}
	}
}

// Wave reports whether a stuffing wave is under way at unix time t, and the failures of the last ten
// minutes.
func (w *Waves) Wave(t uint32) (bool, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.seen {
		return false, 0
	}
	w.advance(int64(t) / 60)
	n := 0
	for i := 0; i < waveWindow; i++ {
		n += int(w.buckets[(w.cur-i+len(w.buckets))%len(w.buckets)])
	}
	expected := w.baseline * waveWindow
	return n >= 30 && float64(n) > 5*expected+10, n
}
