package ingest

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestAdmission(t *testing.T) {
	tests := []struct {
		name      string
		max       int
		held      int // events already in flight
		n         int
		wait      time.Duration
		freeAfter time.Duration // the held events are given back after this (0: never)
		wantErr   error
		wantUnits int
	}{
		{"room", 4, 2, 2, 0, 0, nil, 2},
		{"no room, no wait", 4, 3, 2, 0, 0, ErrOverloaded, 0},
		{"no room within the wait", 4, 4, 1, 5 * time.Millisecond, 0, ErrOverloaded, 0},
		{"room made within the wait", 4, 4, 1, time.Second, 5 * time.Millisecond, nil, 1},
		{"a batch over the bound takes the bound", 4, 0, 1000, 0, 0, nil, 4},
		{"a batch over the bound waits for an empty service", 4, 1, 1000, 0, 0, ErrOverloaded, 0},
		{"an empty request takes one", 4, 0, 0, 0, 0, nil, 1},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			a := newAdmission(c.max, c.wait)
			held := 0
			if c.held > 0 {
				var err error
				if held, err = a.acquire(context.Background(), c.held); err != nil {
					t.Fatal(err)
				}
			}
			if c.freeAfter > 0 {
				time.AfterFunc(c.freeAfter, func() { a.release(held) })
			}
			units, err := a.acquire(context.Background(), c.n)
			if !errors.Is(err, c.wantErr) || units != c.wantUnits {
				t.Fatalf("got %d units, %v; want %d, %v", units, err, c.wantUnits, c.wantErr)
			}
			if got, want := a.full(), a.inflight() >= c.max; got != want {
				t.Errorf("got full %v, want %v", got, want)
			}
			a.release(units)
		})
	}
}

func TestAdmissionWaitEndsWithTheRequest(t *testing.T) {
	a := newAdmission(1, time.Hour)
	if _, err := a.acquire(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := a.acquire(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want %v", err, context.DeadlineExceeded)
	}
}
