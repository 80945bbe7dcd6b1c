package incident

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/fault"
	"github.com/brokerguard/brokerguard/internal/report"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

// A takeover as stored: the sale of a holding and a buy, then the next day's quotes.
var stored = []string{
	`{"id":"s1","type":"snapshot","time":"2025-04-09T08:30:00+09:00","account":"VIC","cash":0,"holdings":[{"symbol":"7203","quantity":100,"cost":2500}],"margin":false,"opened":"2015-01-01","mfa":"none","notifications":true}`,
	`{"id":"o1","type":"order","time":"2025-04-10T09:11:00+09:00","account":"VIC","order_id":"ord-1","session":"sx1","ip":"45.76.1.2","device":"dev-x","symbol":"7203","side":"sell","quantity":100,"account_type":"cash","channel":"web"}`,
	`{"id":"x1","type":"execution","time":"2025-04-10T09:11:01+09:00","account":"VIC","order_id":"ord-1","exec_id":"ex-1","symbol":"7203","side":"sell","quantity":100,"price":3000,"fee":100}`,
	`{"id":"o2","type":"order","time":"2025-04-10T09:12:00+09:00","account":"VIC","order_id":"ord-2","session":"sx1","ip":"45.76.1.2","device":"dev-x","symbol":"8012","side":"buy","quantity":1000,"price":300,"account_type":"cash","channel":"web"}`,
	`{"id":"x2","type":"execution","time":"2025-04-10T09:12:01+09:00","account":"VIC","order_id":"ord-2","exec_id":"ex-2","symbol":"8012","side":"buy","quantity":1000,"price":300,"fee":50}`,
	`{"id":"fr","type":"fraud_report","time":"2025-04-10T20:00:00+09:00","account":"VIC","channel":"phone"}`,
	`{"id":"q3","type":"quote","time":"2025-04-11T15:00:00+09:00","symbol":"7203","price":3100,"volume":100000}`,
	`{"id":"q4","type":"quote","time":"2025-04-11T15:00:00+09:00","symbol":"8012","price":200,"volume":1000}`,
}

func TestIncidentSurvivesARestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bg.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b store.Batch
	for _, raw := range stored {
		ev, err := event.Decode([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		b.Events = append(b.Events, store.EventRecord{ID: ev.ID, Account: ev.Account, Type: ev.Type.String(), Time: ev.Time, Raw: []byte(raw)})
	}
	reported := time.Date(2025, 4, 10, 20, 0, 0, 0, time.FixedZone("", 9*3600))
	b.Alerts = append(b.Alerts, event.Alert{ID: "rep-fr", Time: reported, Kind: event.AlertAccountTakeover, Accounts: []string{"VIC"},
		Score: 1000, Reasons: []event.Reason{{Code: ReportCode, Detail: "reported"}}})
	if err := st.Append(ctx, &b); err != nil {
		t.Fatal(err)
	}
	wall := func() time.Time { return time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC) }
	data := func() time.Time { return reported.Add(time.Hour) }
	trail := audit.New(audit.Options{Store: st, Wall: wall, Data: data})
	d := New(Options{Store: st, Trail: trail})
	incs, err := d.Incidents(ctx)
	if err != nil || len(incs) != 1 || incs[0].ID != "inc-fr" || incs[0].Status != StatusOpen {
		t.Fatalf("incidents = %+v, %v", incs, err)
	}
	edited, err := d.ChangeOrders(ctx, "sato", "inc-fr", OrdersChange{Add: []string{"ord-1", "ord-2"}}, "confirmed by phone")
	if err != nil {
		t.Fatal(err)
	}
	if !edited.Opened.Equal(reported) || edited.OpenedBy != "fraud_report" {
		t.Errorf("an edit rewrote the opening: opened %v by %q; want %v by fraud_report", edited.Opened, edited.OpenedBy, reported)
	}
	if _, err := d.ChangeExecutions(ctx, "sato", "inc-fr", ExecutionsChange{Exclude: []string{"ex-1"}}, "the customer placed this sale"); err != nil {
		t.Fatal(err)
	}
	inc, err := d.Assess(ctx, "sato", "inc-fr", AssessRequest{Policy: "restore"}, "valued")
	if err != nil {
		t.Fatal(err)
	}
	// Only the buy counts now: (0 − 1000) × 200 + 300,000 + 50 = 100,050.
	if got := inc.Assessment.Result.Decision.Recommended.String(); got != "100050" {
		t.Fatalf("recommended = %s", got)
	}
	if _, err := d.Approve(ctx, "sato", "inc-fr", "ok"); !errors.Is(err, fault.ErrConflict) {
		t.Errorf("the assessor approved: %v", err)
	}
	if _, err := d.Approve(ctx, "ito", "inc-fr", "checked"); err != nil {
		t.Fatal(err)
	}
	rows, err := report.NewFiler(report.FilerOptions{Incidents: d, Trail: trail}).Tally(ctx)
	if err != nil || len(rows) != 1 || rows[0].Trades != 1 || rows[0].BoughtYen.String() != "300000" || rows[0].SoldYen.String() != "0" {
		t.Errorf("tally = %+v, %v (the excluded sale is left out)", rows, err)
	}
	st.Close()

	st2, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	d2 := New(Options{Store: st2, Trail: audit.New(audit.Options{Store: st2, Wall: wall, Data: data})})
	if _, err := d2.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := d2.Incident(ctx, "inc-fr")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusApproved || got.Approval == nil || got.Approval.By != "ito" || got.Approval.Amount != "100050" ||
		got.Excluded["ex-1"] != "the customer placed this sale" || !got.Opened.Equal(reported) || got.OpenedBy != "fraud_report" || strings.Join(got.Orders, ",") != "ord-1,ord-2" || len(got.Audit) != 5 {
		t.Errorf("after restart: %+v", got)
	}
	if _, err := d2.ChangeOrders(ctx, "sato", "inc-fr", OrdersChange{Remove: []string{"ord-1"}}, "late change"); !errors.Is(err, fault.ErrConflict) {
		t.Errorf("approved incident changed after restart: %v", err)
	}
}
