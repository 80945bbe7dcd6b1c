package ingest

import (
	"context"
	"testing"
	"time"
)

func TestServiceRejectsLateAndFutureEvents(t *testing.T) {
	st := openSQLite(t)
	now := time.Date(2025, 3, 17, 12, 0, 0, 0, time.UTC)
	svc := NewService(ServiceOptions{Engine: newEngine(t), Store: st,
		Timing: Timing{Lateness: 5 * time.Minute, Future: time.Minute, Now: func() time.Time { return now }}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	ev := func(id, at string) []byte {
		return []byte(`{"id":"` + id + `","type":"logout","time":"` + at + `","account":"A1","session":"s"}`)
	}
	res, err := svc.Ingest(ctx, [][]byte{
		ev("a", "2025-03-17T11:50:00Z"),
		ev("b", "2025-03-17T11:47:00Z"), // 3 minutes late: within the lateness
		ev("c", "2025-03-17T11:40:00Z"), // 10 minutes late
		ev("d", "2025-03-17T12:05:00Z"), // 5 minutes ahead of the clock
		ev("a", "2025-03-17T11:50:00Z"), // a repeat
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ status, code string }{{StatusAccepted, ""}, {StatusAccepted, ""}, {StatusRejected, "too_late"},
		{StatusRejected, "in_future"}, {StatusDuplicate, ""}}
	for i, w := range want {
		code := ""
		if res[i].Error != nil {
			code = res[i].Error.Code
		}
		if res[i].Status != w.status || code != w.code {
			t.Errorf("event %d: got %s %s, want %s %s", i, res[i].Status, code, w.status, w.code)
		}
	}
	c, _ := st.Counts(context.Background())
	if c.Events != 2 {
		t.Errorf("stored %d events, want the 2 accepted", c.Events)
	}
}
