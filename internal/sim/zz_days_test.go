package sim

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"
)

func TestScratchDays(t *testing.T) {
	if os.Getenv("SCRATCH") == "" {
		t.Skip()
	}
	sc, _ := BuiltinScenario("quiet-month")
	var last time.Time
	var lastDone int64
	start := time.Now()
	_, err := Generate(context.Background(), sc, Options{Seed: 1, Progress: func(done, total int64) {
		if done-lastDone >= 86400*2 || done == total {
			if !last.IsZero() {
				fmt.Printf("day %.1f: %.2fs for 2 sim days\n", float64(done)/86400, time.Since(last).Seconds())
			}
			last, lastDone = time.Now(), done
		}
	}}, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("total", time.Since(start))
}
