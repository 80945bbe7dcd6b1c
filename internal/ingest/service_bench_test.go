package ingest

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

// BenchmarkServiceIngest measures one-event requests through the service into a real SQLite file, from
// several clients at once (group commit).
func BenchmarkServiceIngest(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bg.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := NewService(ServiceOptions{Engine: newEngine(b), Store: st, Timing: Timing{Lateness: 24 * time.Hour}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	line := []byte(`{"id":"ID","type":"logout","time":"2025-03-17T09:00:01+09:00","account":"A1","session":"s"}`)
	var mu sync.Mutex
	n := 0
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			n++
			id := n
			mu.Unlock()
			raw := bytes.Replace(line, []byte("ID"), []byte("e"+itoa(id)), 1)
			if _, err := svc.Ingest(ctx, [][]byte{raw}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func itoa(n int) string {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(buf[i:])
		}
	}
}
