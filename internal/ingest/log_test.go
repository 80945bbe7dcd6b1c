package ingest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/store"
)

// TestRebuildWarningNamesNoAccount rebuilds from a store that holds an account's fraud report after
// more than a history's worth of its later events, which logs a warning; at debug level, the log names
// the event and none of the account's personal data.
func TestRebuildWarningNamesNoAccount(t *testing.T) {
	const acct, ip, device = "PRIV-REBUILD-1", "203.0.113.41", "dev-rebuild-1"
	st := openSQLite(t)
	base := time.Date(2025, 3, 17, 9, 0, 0, 0, time.UTC)
	var b store.Batch
	for i := 1; i <= 300; i++ {
		id, at := fmt.Sprintf("l%d", i), base.Add(time.Duration(i)*time.Second)
		raw := fmt.Sprintf(`{"id":"%s","type":"login","time":"%s","account":"%s","result":"success","method":"password","session":"sess-%s","ip":"%s","device":"%s"}`,
			id, at.Format(time.RFC3339), acct, id, ip, device)
		b.Events = append(b.Events, store.EventRecord{ID: id, Account: acct, Type: "login", Time: at, Raw: []byte(raw)})
	}
	fr := fmt.Sprintf(`{"id":"fr","type":"fraud_report","time":"%s","account":"%s","channel":"phone"}`, base.Format(time.RFC3339), acct)
	b.Events = append(b.Events, store.EventRecord{ID: "fr", Account: acct, Type: "fraud_report", Time: base, Raw: []byte(fr)})
	if err := st.Append(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		opts := &slog.HandlerOptions{Level: slog.LevelDebug}
		h := slog.Handler(slog.NewTextHandler(&buf, opts))
		if format == "json" {
			h = slog.NewJSONHandler(&buf, opts)
		}
		eng := newEngineLate(t, 5*time.Minute)
		svc := NewService(ServiceOptions{Engine: eng, Store: st, Log: slog.New(h),
			Timing: Timing{Lateness: 5 * time.Minute, Future: time.Hour, Now: time.Now}})
		if _, err := svc.Rebuild(context.Background()); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if !strings.Contains(out, "out of time order") || !strings.Contains(out, "fr") {
			t.Errorf("%s: got %q, want the rebuild warning naming event fr", format, out)
		}
		for _, v := range []string{acct, ip, device, "sess-l"} {
			if strings.Contains(out, v) {
				t.Errorf("%s: got %q, want no %q", format, out, v)
			}
		}
	}
}
