package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/campaign"
	"github.com/brokerguard/brokerguard/internal/desk"
	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/incident"
	"github.com/brokerguard/brokerguard/internal/ingest"
	"github.com/brokerguard/brokerguard/internal/notify"
	"github.com/brokerguard/brokerguard/internal/profile"
	"github.com/brokerguard/brokerguard/internal/report"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

const (
	ingestKey  = "ingest-key-0123456789"
	readKey    = "read-key-0123456789ab"
	analystKey = "analyst-key-0123456789"
	superKey   = "supervisor-key-0123456789"
)

type fixture struct {
	url  string
	api  *Server
	opts Options // the options of api
	svc  *ingest.Service
	eng  *detect.Engine
	st   *sqlite.Store
}

// newFixture runs the real API on loopback over a real ingest service and SQLite file.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := detect.New(detect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	svc := ingest.NewService(ingest.ServiceOptions{Engine: eng, Store: st, Metrics: ingest.NewMetrics(reg),
		Timing: ingest.Timing{Lateness: 5 * time.Minute, Future: time.Hour, Now: time.Now}})
	if _, err := svc.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	trail := audit.New(audit.Options{Store: st, Wall: time.Now})
	opts := Options{Ingester: svc, Store: st, Gatherer: reg, MaxBatch: 50, MaxBodyBytes: 64 << 10,
		Campaigns: eng.Campaign(), Audit: st,
		Keys: StaticKeys{{Name: "edge", Role: RoleIngest, Hash: sha256.Sum256([]byte(ingestKey))},
			{Name: "analyst", Role: RoleRead, Hash: sha256.Sum256([]byte(readKey))},
			{Name: "desk-sato", Role: RoleAnalyst, Hash: sha256.Sum256([]byte(analystKey))},
			{Name: "chief-ito", Role: RoleSupervisor, Hash: sha256.Sum256([]byte(superKey))}}}
	withRooms(&opts, st, trail, eng.Campaign(), eng.Accounts(), eng)
	opts.Notices = testNotices(t, svc, trail)
	withReg := opts
	withReg.Registerer = reg
	api := New(withReg)
	hs := httptest.NewServer(api.Handler())
	t.Cleanup(func() {
		hs.Close()
		cancel()
		<-done
		st.Close()
	})
	return &fixture{url: hs.URL, api: api, opts: opts, svc: svc, eng: eng, st: st}
}

// serve runs another API on loopback over the fixture's service and store, with the fixture's options
// changed by change.
func (f *fixture) serve(t *testing.T, change func(o *Options)) string {
	t.Helper()
	o := f.opts
	change(&o)
	hs := httptest.NewServer(New(o).Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

func (f *fixture) do(t *testing.T, method, path, key, body string) (int, map[string]any, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, string(b)
}

func sampleLines(t *testing.T) []string {
	b, err := os.ReadFile("../../testdata/sample.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestAuth(t *testing.T) {
	f := newFixture(t)
	ev := sampleLines(t)[0]
	tests := []struct {
		name, method, path, key, body string
		status                        int
		code                          string
	}{
		{"no key", "POST", "/v1/events", "", ev, 401, CodeUnauthorized},
		{"wrong key", "POST", "/v1/events", "nope-nope-nope-nope", ev, 401, CodeUnauthorized},
		{"read key cannot ingest", "POST", "/v1/events", readKey, ev, 403, CodeForbidden},
		{"ingest key cannot read alerts", "GET", "/v1/alerts", ingestKey, "", 403, CodeForbidden},
		{"no key on decisions", "GET", "/v1/decisions", "", "", 401, CodeUnauthorized},
		{"no key on metrics", "GET", "/metrics", "", "", 401, CodeUnauthorized},
		{"ingest key ingests", "POST", "/v1/events", ingestKey, ev, 200, ""},
		{"read key reads alerts", "GET", "/v1/alerts", readKey, "", 200, ""},
		{"health needs no key", "GET", "/healthz", "", "", 200, ""},
		{"openapi needs no key", "GET", "/v1/openapi.json", "", "", 200, ""},
		{"unknown route", "GET", "/v1/nothing", readKey, "", 404, CodeNotFound},
		{"wrong method", "DELETE", "/v1/events", ingestKey, "", 405, CodeMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m, body := f.do(t, tt.method, tt.path, tt.key, tt.body)
			if status != tt.status || errCode(m) != tt.code {
				t.Errorf("got %d %q (%s), want %d %q", status, errCode(m), body, tt.status, tt.code)
			}
		})
	}
}

func TestEventsAndReads(t *testing.T) {
	f := newFixture(t)
	lines := sampleLines(t)
	// Send the sample as batches of 10, then single events.
	var decided int
	for i := 0; i < len(lines); i += 10 {
		end := min(i+10, len(lines))
		status, m, body := f.do(t, "POST", "/v1/events", ingestKey, "["+strings.Join(lines[i:end], ",")+"]")
		if status != 200 {
			t.Fatalf("batch at %d: %d %s", i, status, body)
		}
		for _, r := range m["results"].([]any) {
			if r.(map[string]any)["status"] == "decided" {
				decided++
			}
		}
	}
	if decided == 0 {
		t.Fatal("no decisions returned")
	}
	// A repeated event is a duplicate and returns its stored decision.
	var x5 string
	for _, l := range lines {
		if strings.Contains(l, `"id":"x5"`) {
			x5 = l
		}
	}
	status, m, body := f.do(t, "POST", "/v1/events", ingestKey, x5)
	if status != 200 || m["status"] != "duplicate" {
		t.Fatalf("repeat: %d %s, want a duplicate", status, body)
	}
	d, _ := m["decision"].(map[string]any)
	if a := d["action"]; a != "hold" && a != "block" {
		t.Errorf("stored decision of x5 is %v, want hold or block", a)
	}
	// Reads.
	status, m, body = f.do(t, "GET", "/v1/decisions?account=A1&limit=3", readKey, "")
	if status != 200 || len(m["items"].([]any)) != 3 || m["next"] == nil {
		t.Fatalf("decisions page: %d %s", status, body)
	}
	status, m2, _ := f.do(t, "GET", "/v1/decisions?account=A1&limit=3&before="+m["next"].(string), readKey, "")
	if status != 200 || len(m2["items"].([]any)) == 0 {
		t.Fatal("second page empty")
	}
	if m2["items"].([]any)[0].(map[string]any)["id"] == m["items"].([]any)[0].(map[string]any)["id"] {
		t.Error("second page repeats the first")
	}
	status, m, body = f.do(t, "GET", "/v1/decisions/x5", ingestKey, "")
	if status != 200 || m["id"] != "x5" || m["time"] == nil {
		t.Errorf("decision x5: %d %s", status, body)
	}
	if status, m, _ = f.do(t, "GET", "/v1/decisions/nope", readKey, ""); status != 404 || errCode(m) != CodeNotFound {
		t.Errorf("unknown decision: %d %v", status, m)
	}
	status, m, body = f.do(t, "GET", "/v1/alerts?kind=account_takeover&account=A1", readKey, "")
	if status != 200 || len(m["items"].([]any)) == 0 {
		t.Errorf("alerts: %d %s", status, body)
	}
	_, _, metrics := f.do(t, "GET", "/metrics", readKey, "")
	for _, want := range []string{`brokerguard_events_total{type="order"}`, `brokerguard_decisions_total{action="hold"}`,
		"brokerguard_decision_seconds_bucket", `brokerguard_http_request_seconds_count{code="200",route="POST /v1/events"}`,
		`brokerguard_duplicate_events_total 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestBadInput(t *testing.T) {
	f := newFixture(t)
	lines := sampleLines(t)
	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"malformed single", `{"id":`, 422, "malformed_json"},
		{"missing field single", `{"id":"a","type":"logout","time":"2025-03-01T08:00:00+09:00"}`, 422, "missing_field"},
		{"not an array", `[1,`, 400, CodeBadRequest},
		{"empty", ``, 400, CodeBadRequest},
		{"empty array", `[]`, 400, CodeBadRequest},
		{"batch too large", "[" + strings.TrimSuffix(strings.Repeat(lines[0]+",", 51), ",") + "]", 413, CodeBatchTooLarge},
		{"body too large", `{"id":"` + strings.Repeat("x", 70<<10) + `"}`, 413, CodeBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m, body := f.do(t, "POST", "/v1/events", ingestKey, tt.body)
			if status != tt.status || errCode(m) != tt.code {
				t.Errorf("got %d %s, want %d %s", status, body, tt.status, tt.code)
			}
		})
	}
	// In a batch, a bad event is rejected alone and the others are accepted.
	status, m, body := f.do(t, "POST", "/v1/events", ingestKey, "["+lines[0]+`,{"id":"b","type":"order","time":"2025-03-01T08:00:00+09:00","account":"A","order_id":"o","symbol":"1","side":"buy","quantity":"ten","ip":"1.1.1.1"},`+lines[1]+"]")
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	rs := m["results"].([]any)
	st := func(i int) string { return rs[i].(map[string]any)["status"].(string) }
	if st(0) != "accepted" || st(1) != "rejected" || st(2) != "accepted" {
		t.Fatalf("got %s %s %s, want accepted rejected accepted", st(0), st(1), st(2))
	}
	e := rs[1].(map[string]any)["error"].(map[string]any)
	if e["field"] != "quantity" || e["code"] != "wrong_type" {
		t.Errorf("got error %v, want wrong_type on quantity", e)
	}
	_, _, metrics := f.do(t, "GET", "/metrics", readKey, "")
	if !strings.Contains(metrics, `brokerguard_event_errors_total{code="wrong_type"} 1`) {
		t.Error("metrics do not count the error by code")
	}
}

// TestOpenAPIMatchesRoutes checks that the checked-in description lists exactly the served routes.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	var inDoc, served []string
	for p, ops := range doc.Paths {
		for m := range ops {
			inDoc = append(inDoc, strings.ToUpper(m)+" "+p)
		}
	}
	for _, r := range routes() {
		served = append(served, r.method+" "+r.path)
	}
	sort.Strings(inDoc)
	sort.Strings(served)
	if fmt.Sprint(inDoc) != fmt.Sprint(served) {
		t.Errorf("OpenAPI paths %v\nserved routes %v", inDoc, served)
	}
	// Every error code the server can return is in the description's enum.
	src, _ := os.ReadFile("errors.go")
	for _, m := range regexp.MustCompile(`Code\w+\s+= "(\w+)"`).FindAllSubmatch(src, -1) {
		if !bytes.Contains(openAPI, []byte(`"`+string(m[1])+`"`)) {
			t.Errorf("error code %s missing from openapi.json", m[1])
		}
	}
}

// withRooms builds the analyst desk, the incident register and the regulator's filer over one audit
// trail, as serve does, into o.
func withRooms(o *Options, st incident.Store, trail *audit.Trail, layer *campaign.Layer, accounts *profile.Accounts, locks desk.Locks) {
	o.Desk = desk.New(desk.Options{Layer: layer, Accounts: accounts, Locks: locks, Trail: trail, Decisions: o.Store})
	o.Incidents = incident.New(incident.Options{Store: st, Trail: trail})
	o.Reports = report.NewFiler(report.FilerOptions{Incidents: o.Incidents, Trail: trail})
}

// testNotices answers notices from an outbox holding one notice, ntc-l9 of account VIC: a "no" goes to
// the ingest service as a fraud report, a "yes" to the audit trail.
func testNotices(t *testing.T, svc *ingest.Service, trail *audit.Trail) NoticeAnswers {
	box := &notify.Outbox{Dir: t.TempDir()}
	if err := box.Put(notify.Notice{ID: "ntc-l9", Account: "VIC", Kind: notify.KindLogin, Time: mustTime("2025-04-11T16:00:00+09:00")}); err != nil {
		t.Fatal(err)
	}
	return noticeTaker{&notify.Answers{Outbox: box, Now: func() time.Time { return mustTime("2025-04-11T17:00:00+09:00") },
		Report: func(ctx context.Context, raw []byte) (bool, error) {
			res, err := svc.Ingest(ctx, [][]byte{raw})
			if err != nil {
				return false, err
			}
			return res[0].Status == ingest.StatusDuplicate, nil
		},
		Label: func(ctx context.Context, actor string, n notify.Notice) (bool, error) {
			_, err := trail.Record(ctx, actor, "notice.confirmed", "notice:"+n.ID, "it was me", nil, nil)
			return false, err
		}}}
}

type noticeTaker struct{ a *notify.Answers }

func (n noticeTaker) AnswerNotice(ctx context.Context, id, answer, actor string) (NoticeAnswer, error) {
	a, err := n.a.Take(ctx, id, answer, actor)
	status := "recorded"
	if a.Duplicate {
		status = "duplicate"
	}
	return NoticeAnswer{Notice: a.Notice, Account: a.Account, Answer: a.Answer, FraudReport: a.FraudReport, Status: status}, err
}
