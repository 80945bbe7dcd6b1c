package sim

import (
	"context"
	"io"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time this process has used (user and system, all threads).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGenerate generates each built-in scenario at full size to io.Discard and reports events per
// second of wall time, and per second of CPU time (steadier on a shared machine). The large ones take
// seconds per run:
//
//	go test -run '^$' -bench 'Generate/wave-2025' -benchtime 1x -count 5 ./internal/sim
func BenchmarkGenerate(b *testing.B) {
	for _, name := range BuiltinScenarios() {
		b.Run(name, func(b *testing.B) {
			sc, err := BuiltinScenario(name)
			if err != nil {
				b.Fatal(err)
			}
			var events, bytes int64
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st, err := Generate(context.Background(), sc, Options{Seed: int64(i + 1)}, io.Discard, nil)
				if err != nil {
					b.Fatal(err)
				}
				events += st.Events
				bytes += st.Bytes
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			if cpu > 0 {
				b.ReportMetric(float64(events)/cpu.Seconds(), "events/cpu-s")
			}
			b.ReportMetric(float64(events)/float64(b.N), "events/op")
			b.SetBytes(bytes / int64(b.N))
		})
	}
}
