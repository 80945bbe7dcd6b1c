package links

import "testing"

func TestObserveCountsOtherAccountsInWindow(t *testing.T) {
	l := New(3600)
	const ip = 42
	steps := []struct {
		account uint64
		t       uint32
		want    int
	}{
		{1, 1000, 0},
		{1, 1100, 0}, // the same account again
		{2, 1200, 1},
		{3, 1300, 2},
		{4, 1000 + 3600 + 150, 2}, // account 1 last seen at 1100: now out of the window
	}
	for i, s := range steps {
		if got := l.Observe(KindIP, ip, s.account, s.t); got != s.want {
			t.Errorf("step %d: got %d others, want %d", i, got, s.want)
		}
	}
	if got := l.Observe(KindDevice, ip, 9, 5000); got != 0 {
		t.Errorf("a device with the same hash as an address counted %d others, want 0 (kinds are separate)", got)
	}
}

func TestObserveTLS(t *testing.T) {
	l := New(3600)
	const chrome, curl = 1, 2
	for range 50 {
		l.ObserveTLS(7, chrome)
	}
	st := l.ObserveTLS(7, curl)
	if st.Total != 50 || st.Dominant != chrome || st.DominantShare != 1 || st.ThisShare != 0 {
		t.Errorf("got %+v, want 50 observations all chrome", st)
	}
}

func TestWaves(t *testing.T) {
	var w Waves
	// A quiet day: one failed login every ten minutes.
	t0 := uint32(1_700_000_000)
	for m := uint32(0); m < 24*60; m += 10 {
		if _, started := w.Failure(t0+m*60, "1.1.1.1", "A"); started {
			t.Fatal("a quiet day started a wave")
		}
	}
	if on, _ := w.Wave(t0 + 24*60*60); on {
		t.Fatal("a quiet day looks like a wave")
	}
	// Then 20 failures a minute.
	start := t0 + 24*60*60
	starts := 0
	var first WaveStart
	for m := uint32(0); m < 30; m++ {
		for k := uint32(0); k < 20; k++ {
			ip := "203.0.113.7"
			if k%4 == 0 {
				ip = "198.51.100.9"
			}
			if ws, started := w.Failure(start+m*60+k, ip, "V"+string(rune('a'+k))); started {
				starts++
				first = ws
			}
		}
	}
	if starts != 1 {
		t.Fatalf("the wave started %d times, want once", starts)
	}
	if len(first.Sources) != 2 || first.Sources[0].IP != "203.0.113.7" || first.Failures < 30 || len(first.Accounts) == 0 {
		t.Errorf("wave start %+v, want the busiest source first", first)
	}
	on, n := w.Wave(start + 30*60)
	if !on || n < 150 {
		t.Fatalf("got wave %v with %d failures, want a wave", on, n)
	}
	// Two quiet hours later the wave is over.
	if on, _ := w.Wave(start + 150*60); on {
		t.Error("the wave never ends")
	}
}
