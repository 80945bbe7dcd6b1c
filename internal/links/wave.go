package links

import (
	"sort"
	"sync"
)

// Waves watches failed logins across all accounts, minute by minute, to tell when a credential-stuffing
// wave is under way: many more failures in the last ten minutes than the hours before would explain.
type Waves struct {
	mu       sync.Mutex
	minute   int64      // the minute of buckets[cur]
	cur      int        // index of the current minute
	buckets  [60]uint32 // failures per minute, the last hour
	baseline float64    // failures per minute, slowly moving average
	seen     bool

	active  bool              // a wave is under way
	sources map[string]uint32 // failures by source address since the last quiet moment
	targets []string          // accounts tried since the last quiet moment (the first maxTargets)
}

// maxSources and maxTargets bound what a wave remembers for its alert.
const (
	maxSources = 4096
	maxTargets = 20
)

// WaveStart describes a credential-stuffing wave when it is first seen.
type WaveStart struct {
	Failures int      // failed logins in the last ten minutes
	Expected float64  // what the baseline expects in ten minutes
	Sources  []Source // the busiest source addresses, most failures first
	Accounts []string // some of the accounts tried
}

// Source is one address failed logins came from.
type Source struct {
	IP       string
	Failures int
}

// waveWindow is how many recent minutes are compared with the baseline.
const waveWindow = 10

// Failure records one failed login at unix time t from ip on account. When it starts a wave, it returns
// what the wave looks like, once; a wave ends when failures fall back to what the baseline expects.
func (w *Waves) Failure(t uint32, ip, account string) (WaveStart, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(int64(t) / 60)
	w.buckets[w.cur]++
	if w.sources == nil {
		w.sources = map[string]uint32{}
	}
	if _, ok := w.sources[ip]; ok || len(w.sources) < maxSources {
		w.sources[ip]++
	}
	if len(w.targets) < maxTargets {
		w.targets = append(w.targets, account)
	}
	on, n, expected := w.state()
	switch {
	case on && !w.active:
		w.active = true
		return w.describe(n, expected), true
	case !on && float64(n) <= expected+waveWindow:
		// Quiet: forget the sources, so that the next wave's alert names its own.
		w.active = false
		clear(w.sources)
		w.targets = w.targets[:0]
	}
	return WaveStart{}, false
}

func (w *Waves) describe(n int, expected float64) WaveStart {
	ws := WaveStart{Failures: n, Expected: expected, Accounts: append([]string(nil), w.targets...)}
	for ip, c := range w.sources {
		ws.Sources = append(ws.Sources, Source{IP: ip, Failures: int(c)})
	}
	sort.Slice(ws.Sources, func(i, j int) bool {
		a, b := ws.Sources[i], ws.Sources[j]
		return a.Failures > b.Failures || a.Failures == b.Failures && a.IP < b.IP
	})
	if len(ws.Sources) > 10 {
		ws.Sources = ws.Sources[:10]
	}
	return ws
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
	on, n, _ := w.state()
	return on, n
}

// state is the wave test: at least 30 failures in ten minutes, and five times what the baseline expects.
func (w *Waves) state() (bool, int, float64) {
	n := 0
	for i := 0; i < waveWindow; i++ {
		n += int(w.buckets[(w.cur-i+len(w.buckets))%len(w.buckets)])
	}
	expected := w.baseline * waveWindow
	return n >= 30 && float64(n) > 5*expected+10, n, expected
}
