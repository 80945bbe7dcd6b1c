package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/campaign"
	"github.com/brokerguard/brokerguard/internal/incident"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

// The tests of this file each answer one finding of the API audit of issue 18.

func errorOf(t *testing.T, a answer) (code, field, msg string) {
	t.Helper()
	var m struct {
		Error errorDetail `json:"error"`
	}
	if err := json.Unmarshal([]byte(a.body), &m); err != nil {
		t.Fatalf("error body %q: %v", a.body, err)
	}
	return m.Error.Code, m.Error.Field, m.Error.Message
}

func TestAuthorizationSchemeIgnoresCase(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		header string
		status int
	}{
		{"Bearer " + readKey, 200},
		{"bearer " + readKey, 200},
		{"BEARER " + readKey, 200},
		{"bEaReR   " + readKey + " ", 200},
		{"Basic " + readKey, 401},
		{"Bearer", 401},
		{"Bearer ", 401},
		{readKey, 401},
		{"bearer nope-nope-nope-nope", 401},
	} {
		req, _ := http.NewRequest("GET", f.url+"/v1/alerts", nil)
		req.Header.Set("Authorization", c.header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("Authorization %q: got %d, want %d", c.header, resp.StatusCode, c.status)
		}
	}
}

func TestKeyedAnswersAreNotStored(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		path, key, cacheControl string
	}{
		{"/v1/decisions", readKey, "no-store"},
		{"/v1/decisions/nope", readKey, "no-store"}, // an error too
		{"/v1/alerts", "", "no-store"},              // and a refusal
		{"/v1/tally?format=csv", readKey, "no-store"},
		{"/metrics", readKey, "no-store"},
		{"/v1/openapi.json", "", ""},
		{"/healthz", "", ""},
	} {
		if a := call(t, f.url, "GET", c.path, c.key, "", ""); a.header.Get("Cache-Control") != c.cacheControl {
			t.Errorf("%s: got Cache-Control %q, want %q", c.path, a.header.Get("Cache-Control"), c.cacheControl)
		}
	}
}

func TestDeskBodies(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("x", maxDeskBody)
	for _, c := range []struct {
		name, path, body string
		status           int
		code, msg        string
	}{
		{"over the limit", "/v1/watchlist", `{"kind":"ip","value":"203.0.113.7","reason":"` + long + `"}`, 413, CodeBodyTooLarge, "over 65536 bytes"},
		{"over the limit, incident", "/v1/incidents/inc-x/orders", `{"add":[],"reason":"` + long + `"}`, 413, CodeBodyTooLarge, "over 65536 bytes"},
		{"garbage after the object", "/v1/watchlist", `{"kind":"ip","value":"203.0.113.7","reason":"r"}x`, 400, CodeBadRequest, "after the JSON object"},
		{"a second object", "/v1/watchlist", `{"kind":"ip","value":"203.0.113.7","reason":"r"} {"kind":"ip","value":"203.0.113.8","reason":"r"}`, 400, CodeBadRequest, "after the JSON object"},
		{"garbage after an incident edit", "/v1/incidents/inc-x/orders", `{"add":["o"],"reason":"r"}]`, 400, CodeBadRequest, "after the JSON object"},
		{"empty", "/v1/watchlist", ``, 400, CodeBadRequest, "empty body"},
		{"a member twice", "/v1/watchlist", `{"kind":"ip","value":"203.0.113.7","reason":"r","reason":"other"}`, 400, CodeBadRequest, `"reason" given twice`},
		{"a member in two cases", "/v1/watchlist", `{"kind":"ip","value":"203.0.113.7","reason":"r","REASON":"other"}`, 400, CodeBadRequest, `"REASON" given twice`},
		{"a member in another case", "/v1/watchlist", `{"kind":"ip","Value":"203.0.113.7","reason":"r"}`, 400, CodeBadRequest, `unknown field "Value"`},
		{"an incident edit in another case", "/v1/incidents/inc-x/orders", `{"ADD":["o"],"reason":"r"}`, 400, CodeBadRequest, `unknown field "ADD"`},
		{"an incident's reason twice", "/v1/incidents/inc-x/orders", `{"add":["o"],"reason":"r","Reason":"s"}`, 400, CodeBadRequest, `given twice`},
	} {
		a := call(t, f.url, "POST", c.path, analystKey, "", c.body)
		code, _, msg := errorOf(t, a)
		if a.status != c.status || code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: got %d %s %q, want %d %s mentioning %q", c.name, a.status, code, msg, c.status, c.code, c.msg)
		}
	}
	// Nothing refused was applied; trailing whitespace is not garbage.
	if a := call(t, f.url, "GET", "/v1/watchlist", readKey, "", ""); strings.Contains(a.body, "203.0.113") {
		t.Fatalf("a refused body changed the watchlist: %s", a.body)
	}
	if a := call(t, f.url, "POST", "/v1/watchlist", analystKey, "", "{\"kind\":\"ip\",\"value\":\"203.0.113.7\",\"reason\":\"r\"}\r\n "); a.status != 201 {
		t.Errorf("body with a trailing newline: got %d %s, want 201", a.status, a.body)
	}
}

func TestPinNeedsPinned(t *testing.T) {
	f := newFixture(t)
	if a := call(t, f.url, "POST", "/v1/watchlist", analystKey, "", `{"kind":"ip","value":"203.0.113.7","pinned":true,"reason":"campaign proxy"}`); a.status != 201 {
		t.Fatalf("add: %d %s", a.status, a.body)
	}
	pinned := func() any {
		a := call(t, f.url, "GET", "/v1/watchlist", readKey, "", "")
		var m struct{ Entries []map[string]any }
		_ = json.Unmarshal([]byte(a.body), &m)
		if len(m.Entries) != 1 {
			t.Fatalf("watchlist: %s", a.body)
		}
		return m.Entries[0]["pinned"]
	}
	for _, c := range []struct {
		name, body string
		status     int
		pinned     bool
	}{
		{"no pinned", `{"kind":"ip","value":"203.0.113.7","reason":"tidy up"}`, 400, true},
		{"pinned null", `{"kind":"ip","value":"203.0.113.7","pinned":null,"reason":"tidy up"}`, 400, true},
		{"pinned a string", `{"kind":"ip","value":"203.0.113.7","pinned":"false","reason":"tidy up"}`, 400, true},
		{"pinned false", `{"kind":"ip","value":"203.0.113.7","pinned":false,"reason":"case closed"}`, 200, false},
		{"pinned true", `{"kind":"ip","value":"203.0.113.7","pinned":true,"reason":"case reopened"}`, 200, true},
	} {
		a := call(t, f.url, "POST", "/v1/watchlist/pin", analystKey, "", c.body)
		if a.status != c.status {
			t.Errorf("%s: got %d %s, want %d", c.name, a.status, a.body, c.status)
		}
		if c.status == 400 {
			if _, _, msg := errorOf(t, a); !strings.Contains(msg, "pinned") {
				t.Errorf("%s: message %q does not name pinned", c.name, msg)
			}
		}
		if got := pinned(); got != c.pinned {
			t.Errorf("%s: entry pinned %v, want %v", c.name, got, c.pinned)
		}
	}
}

func TestUnknownFilterValues(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		path, field string
		msg         []string // what the message must say
	}{
		{"/v1/incidents?status=bogus", "status", []string{`"bogus"`, "proposed, open, assessed, approved"}},
		{"/v1/alerts?kind=bogus", "kind", []string{"account_takeover, campaign, beneficiary, credential_stuffing, shared_infrastructure"}},
		{"/v1/decisions?action=bogus", "action", []string{"allow, review, challenge, hold, block"}},
		{"/v1/audit?action=watchlist.bogus", "action", []string{"watchlist.add", "incident.approve", "tally.file"}},
		{"/v1/watchlist?all=yes", "all", []string{"true, false"}},
		{"/v1/tally?format=xml", "format", []string{"json, csv"}},
		{"/v1/decisions?limit=0", "limit", []string{"1..1000"}},
		{"/v1/decisions?limit=1001", "limit", []string{"1..1000"}},
		{"/v1/alerts?limit=ten", "limit", []string{"1..1000"}},
		{"/v1/incidents?limit=-1", "limit", []string{"1..1000"}},
		{"/v1/audit?limit=5000", "limit", []string{"1..1000"}},
		{"/v1/audit?after=x", "after", []string{"whole number"}},
		{"/v1/decisions?before=0", "before", []string{"whole number"}},
		{"/v1/alerts?since=yesterday", "since", []string{"RFC 3339"}},
		{"/v1/decisions?until=2025-04-11", "until", []string{"RFC 3339"}},
		{"/v1/campaigns?at=now", "at", []string{"RFC 3339"}},
		{"/v1/watchlist?at=now", "at", []string{"RFC 3339"}},
		{"/v1/incidents?cursor=nope", "cursor", []string{"next value"}},
		{"/v1/incidents?stauts=open", "stauts", []string{"unknown query parameter", "status, account, limit, cursor"}},
		{"/v1/decisions?acount=A1", "acount", []string{"account, action"}},
		{"/v1/incidents?status=open&status=approved", "status", []string{"given 2 times"}},
		{"/v1/decisions/x5?account=A1", "account", []string{"takes no query parameters"}},
	} {
		a := call(t, f.url, "GET", c.path, readKey, "", "")
		code, field, msg := errorOf(t, a)
		if a.status != 400 || code != CodeBadRequest || field != c.field {
			t.Errorf("%s: got %d %s field %q (%s), want 400 bad_request field %q", c.path, a.status, code, field, msg, c.field)
		}
		for _, want := range c.msg {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: message %q does not say %q", c.path, msg, want)
			}
		}
	}
}

// alertCounter is the SQLite store, counting the alerts it reads.
type alertCounter struct {
	*sqlite.Store
	rows atomic.Int64
}

func (s *alertCounter) Alerts(ctx context.Context, q store.AlertQuery) ([]store.StoredAlert, error) {
	as, err := s.Store.Alerts(ctx, q)
	s.rows.Add(int64(len(as)))
	return as, err
}

func TestIncidentPages(t *testing.T) {
	f := newFixture(t)
	counter := &alertCounter{Store: f.st}
	trail := audit.New(audit.Options{Store: f.st, Wall: time.Now})
	base := f.serve(t, func(o *Options) { withRooms(o, counter, trail, f.eng.Campaign(), f.eng.Accounts(), nil) })
	report := func(i int) {
		t.Helper()
		ev := fmt.Sprintf(`{"id":"fr%02d","type":"fraud_report","time":"2025-04-10T%02d:%02d:00+09:00","account":"ACC%02d","channel":"phone"}`, i, 9+i/60, i%60, i)
		if a := call(t, f.url, "POST", "/v1/events", ingestKey, "", ev); a.status != 200 {
			t.Fatalf("report %d: %d %s", i, a.status, a.body)
		}
	}
	const n = 45
	for i := range n {
		report(i)
	}
	type listing struct {
		Incidents []incident.Incident `json:"incidents"`
		Next      string              `json:"next"`
	}
	list := func(q string) listing {
		t.Helper()
		a := call(t, base, "GET", "/v1/incidents"+q, readKey, "", "")
		var l listing
		if err := json.Unmarshal([]byte(a.body), &l); a.status != 200 || err != nil {
			t.Fatalf("%s: %d %s", q, a.status, a.body)
		}
		return l
	}
	all := list("?limit=1000")
	if len(all.Incidents) != n || all.Next != "" {
		t.Fatalf("one page of 1000: got %d incidents, next %q, want %d and none", len(all.Incidents), all.Next, n)
	}
	if d := list("").Incidents; len(d) != n {
		t.Errorf("default page: got %d, want %d (default limit 100)", len(d), n)
	}
	// Pages of 20 follow the cursor through the same order, without a gap or a repeat.
	var paged []string
	pages, q := 0, "?limit=20"
	for {
		l := list(q)
		pages++
		for _, inc := range l.Incidents {
			paged = append(paged, inc.ID)
		}
		if l.Next == "" {
			break
		}
		q = "?limit=20&cursor=" + url.QueryEscape(l.Next)
	}
	var want []string
	for _, inc := range all.Incidents {
		want = append(want, inc.ID)
	}
	if pages != 3 || strings.Join(paged, ",") != strings.Join(want, ",") {
		t.Errorf("pages: got %d pages %v, want 3 pages %v", pages, paged, want)
	}
	// Filters apply before the page is cut.
	if l := list("?account=ACC07&limit=1"); len(l.Incidents) != 1 || l.Incidents[0].Account != "ACC07" || l.Next != "" {
		t.Errorf("account filter: got %+v", l)
	}
	// A listing reads only the alerts stored since the previous one, not every takeover alert again.
	counter.rows.Store(0)
	list("?limit=5")
	if got := counter.rows.Load(); got > 16 {
		t.Errorf("a listing with nothing new read %d alerts, want at most 16 (of %d stored)", got, n)
	}
	report(n)
	counter.rows.Store(0)
	if l := list("?limit=1000"); len(l.Incidents) != n+1 {
		t.Errorf("after one more report: got %d incidents, want %d", len(l.Incidents), n+1)
	}
	if got := counter.rows.Load(); got > 16 {
		t.Errorf("a listing after one new report read %d alerts, want at most 16", got)
	}
}

func TestAuthErrorsNameNothing(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name, method, path, key string
		status                  int
	}{
		{"read key ingests", "POST", "/v1/events", readKey, 403},
		{"ingest key reads alerts", "GET", "/v1/alerts", ingestKey, 403},
		{"analyst approves", "POST", "/v1/incidents/inc-x/approve", analystKey, 403},
		{"no key", "GET", "/v1/alerts", "", 401},
		{"unknown key", "GET", "/v1/alerts", "nope-nope-nope-nope", 401},
	} {
		a := call(t, f.url, c.method, c.path, c.key, "", "")
		_, _, msg := errorOf(t, a)
		if a.status != c.status {
			t.Errorf("%s: got %d, want %d", c.name, a.status, c.status)
		}
		for _, secret := range []string{"edge", "desk-sato", "chief-ito", "analyst", "supervisor", "ingest", "admin", "read,", "role read"} {
			if strings.Contains(a.body, secret) {
				t.Errorf("%s: %q names %q", c.name, msg, secret)
			}
		}
		if want := map[int]string{403: "this key's role may not use this endpoint", 401: "missing or unknown API key"}[c.status]; !strings.Contains(msg, want) {
			t.Errorf("%s: message %q, want %q", c.name, msg, want)
		}
	}
}

func TestEventsJSONLines(t *testing.T) {
	f := newFixture(t)
	lines := sampleLines(t)
	// The sample as JSON Lines, with a blank line and a bad line in it: one result per event, each with
	// its line; the bad one is rejected alone.
	body := strings.Join(lines[:3], "\n") + "\n\n" + `{"id":"bad","type":"order"}` + "\r\n" + strings.Join(lines[3:], "\n") + "\n"
	a := call(t, f.url, "POST", "/v1/events", ingestKey, "application/x-ndjson", body)
	var res struct{ Results []eventResult }
	if err := json.Unmarshal([]byte(a.body), &res); a.status != 200 || err != nil {
		t.Fatalf("JSON Lines: %d %s", a.status, a.body)
	}
	if len(res.Results) != len(lines)+1 {
		t.Fatalf("got %d results, want %d", len(res.Results), len(lines)+1)
	}
	for i, r := range res.Results {
		wantLine := i + 1
		if i >= 3 {
			wantLine = i + 2 // after the blank line
		}
		if r.Index != i || r.Line != wantLine {
			t.Errorf("result %d: index %d line %d, want %d %d", i, r.Index, r.Line, i, wantLine)
		}
		if wantBad := r.Line == 5; wantBad != (r.Status == "rejected") {
			t.Errorf("line %d: %s (%v)", r.Line, r.Status, r.Error)
		}
	}
	for _, c := range []struct {
		name, ctype, body string
		status            int
		code, msg         string
	}{
		{"ndjson with charset", "application/x-ndjson; charset=utf-8", lines[0], 200, "", ""},
		{"blank lines only", "application/x-ndjson", "\n \n", 400, CodeBadRequest, "empty body"},
		{"over the batch limit", "application/x-ndjson", strings.Repeat(lines[0]+"\n", 51), 413, CodeBatchTooLarge, "at most 50"},
		{"JSON Lines sent as JSON", "application/json", lines[0] + "\n" + lines[1], 400, CodeBadRequest, "application/x-ndjson"},
		{"garbage after one event", "application/json", lines[0] + " ]", 400, CodeBadRequest, "after the event"},
		{"curl -d", "application/x-www-form-urlencoded", lines[0], 415, CodeUnsupportedMedia, "set Content-Type: application/json"},
		{"text", "text/plain", lines[0], 415, CodeUnsupportedMedia, "application/json (one event or a JSON array of events) or application/x-ndjson"},
	} {
		a := call(t, f.url, "POST", "/v1/events", ingestKey, c.ctype, c.body)
		if c.status == 200 {
			if a.status != 200 || !strings.Contains(a.body, `"line":1`) {
				t.Errorf("%s: got %d %s, want 200 with line 1", c.name, a.status, a.body)
			}
			continue
		}
		code, _, msg := errorOf(t, a)
		if a.status != c.status || code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: got %d %s %q, want %d %s mentioning %q", c.name, a.status, code, msg, c.status, c.code, c.msg)
		}
	}
}

func TestStaticKeys(t *testing.T) {
	ks := StaticKeys{{Name: "a", Role: RoleRead, Hash: sha256.Sum256([]byte("secret-a"))},
		{Name: "b", Role: RoleAdmin, Hash: sha256.Sum256([]byte("secret-b"))}}
	for _, c := range []struct {
		secret string
		name   string
		ok     bool
	}{
		{"secret-a", "a", true},
		{"secret-b", "b", true},
		{"secret-c", "", false},
		{"", "", false},
	} {
		k, ok, err := ks.Lookup(context.Background(), sha256.Sum256([]byte(c.secret)))
		if err != nil || ok != c.ok || k.Name != c.name {
			t.Errorf("Lookup(%q): got %q %v %v, want %q %v", c.secret, k.Name, ok, err, c.name, c.ok)
		}
	}
	if _, ok, _ := StaticKeys(nil).Lookup(context.Background(), [32]byte{}); ok {
		t.Error("an empty ring accepted the zero hash")
	}
	// A server without a ring accepts no key.
	f := newFixture(t)
	if a := call(t, f.serve(t, func(o *Options) { o.Keys = nil }), "GET", "/v1/alerts", readKey, "", ""); a.status != 401 {
		t.Errorf("no ring: got %d, want 401", a.status)
	}
}

// atRecorder is the engine's campaign layer, noting the time it is asked about.
type atRecorder struct {
	*campaign.Layer
	at atomic.Pointer[time.Time]
}

func (r *atRecorder) Campaigns(at time.Time) []campaign.Campaign {
	r.at.Store(&at)
	return r.Layer.Campaigns(at)
}

func TestDataClock(t *testing.T) {
	f := newFixture(t)
	dataNow := time.Now().Add(48 * time.Hour) // the data runs ahead of the wall clock
	layer := &atRecorder{Layer: f.eng.Campaign()}
	base := f.serve(t, func(o *Options) {
		o.Campaigns = layer
		o.DataNow = func() time.Time { return dataNow }
	})
	expires := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	if a := call(t, base, "POST", "/v1/watchlist", analystKey, "", `{"kind":"ip","value":"203.0.113.7","reason":"r","expires":"`+expires+`"}`); a.status != 201 {
		t.Fatalf("add: %d %s", a.status, a.body)
	}
	for _, c := range []struct {
		query string
		n     int
	}{
		{"", 0},          // at the data's time the entry has expired
		{"?all=true", 1}, // but it is still there
		{"?at=" + url.QueryEscape(time.Now().Format(time.RFC3339)), 1}, // and counts at the wall clock's time
	} {
		a := call(t, base, "GET", "/v1/watchlist"+c.query, readKey, "", "")
		var m struct{ Entries []any }
		if err := json.Unmarshal([]byte(a.body), &m); err != nil || len(m.Entries) != c.n {
			t.Errorf("watchlist%s: got %s, want %d entries", c.query, a.body, c.n)
		}
	}
	for _, c := range []struct {
		query string
		at    time.Time
	}{
		{"", dataNow},
		{"?at=2025-04-11T12:00:00%2B09:00", mustTime("2025-04-11T12:00:00+09:00")},
	} {
		if a := call(t, base, "GET", "/v1/campaigns"+c.query, readKey, "", ""); a.status != 200 {
			t.Fatalf("campaigns%s: %d %s", c.query, a.status, a.body)
		}
		if got := layer.at.Load(); got == nil || !got.Equal(c.at) {
			t.Errorf("campaigns%s: asked the layer at %v, want %v", c.query, got, c.at)
		}
	}
}
