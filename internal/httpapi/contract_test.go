package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/ingest"
	"github.com/brokerguard/brokerguard/internal/store"
)

// answer is one live response.
type answer struct {
	status int
	header http.Header
	body   string
}

// call sends one request; ctype "" sends application/json with a body, nothing without.
func call(t *testing.T, base, method, path, key, ctype, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if ctype == "" && body != "" {
		ctype = "application/json"
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// failingKeys is a key ring whose store fails, as a ring that reads keys from the store does when the
// store is unreachable.
type failingKeys struct{ err error }

func (k failingKeys) Lookup(context.Context, [32]byte) (Key, bool, error) { return Key{}, false, k.err }

// apiDoc is the part of the OpenAPI description the contract test reads.
type apiDoc struct {
	Paths map[string]map[string]struct {
		Parameters []struct {
			Name   string `json:"name"`
			In     string `json:"in"`
			Schema struct {
				Enum []string `json:"enum"`
				Ref  string   `json:"$ref"`
			} `json:"schema"`
		} `json:"parameters"`
		Responses map[string]struct {
			Ref     string                     `json:"$ref"`
			Content map[string]json.RawMessage `json:"content"`
		} `json:"responses"`
	} `json:"paths"`
	Components struct {
		Schemas struct {
			Error struct {
				Properties struct {
					Error struct {
						Properties struct {
							Code struct {
								Enum []string `json:"enum"`
							} `json:"code"`
						} `json:"properties"`
					} `json:"error"`
				} `json:"properties"`
			} `json:"Error"`
			Action struct {
				Enum []string `json:"enum"`
			} `json:"Action"`
		} `json:"schemas"`
	} `json:"components"`
}

func readDoc(t *testing.T) apiDoc {
	t.Helper()
	var doc apiDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// checkError checks that body is the documented error: {"error":{"code","message"[,"field"]}}, with
// a code of the enum and a message.
func checkError(doc apiDoc, body string) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &top); err != nil || len(top) != 1 || top["error"] == nil {
		return fmt.Errorf("body %s is not {\"error\":{…}}", body)
	}
	var e map[string]any
	if err := json.Unmarshal(top["error"], &e); err != nil {
		return fmt.Errorf("error %s is not an object", top["error"])
	}
	for k, v := range e {
		if _, ok := v.(string); !ok || !slices.Contains([]string{"code", "message", "field"}, k) {
			return fmt.Errorf("error member %q=%v is not in the schema", k, v)
		}
	}
	code, _ := e["code"].(string)
	if !slices.Contains(doc.Components.Schemas.Error.Properties.Error.Properties.Code.Enum, code) {
		return fmt.Errorf("error code %q is not in the enum", code)
	}
	if msg, _ := e["message"].(string); msg == "" {
		return errors.New("error without a message")
	}
	return nil
}

// TestOpenAPIStatusesLive sends requests that cover every status code that the description lists for
// every route, and checks each live answer against the description: its status is listed for the
// route, an error's body is the documented error, the media type is documented, and every answer to
// a keyed route is not to be stored.
func TestOpenAPIStatusesLive(t *testing.T) {
	f := newFixture(t)
	doc := readDoc(t)
	for _, ev := range takeoverTimeline {
		if a := call(t, f.url, "POST", "/v1/events", ingestKey, "", ev); a.status != 200 {
			t.Fatalf("event: %d %s", a.status, a.body)
		}
	}
	storeHeld(t, f)
	servers := map[string]string{
		"full": f.url,
		"bare": f.serve(t, func(o *Options) {
			o.Desk, o.Incidents, o.Reports, o.Campaigns, o.Audit, o.Gatherer, o.Notices = nil, nil, nil, nil, nil, nil, nil
		}),
		"nolayer": f.serve(t, func(o *Options) {
			o.Campaigns = nil
			withRooms(o, f.st, audit.New(audit.Options{Store: f.st, Wall: time.Now}), nil, f.eng.Accounts(), nil)
		}),
		"down":   f.serve(t, func(o *Options) { o.Keys = failingKeys{fmt.Errorf("read keys: %w", store.ErrUnavailable)} }),
		"broken": f.serve(t, func(o *Options) { o.Keys = failingKeys{errors.New("keys table corrupt")} }),
		"notready": f.serve(t, func(o *Options) {
			eng, err := detect.New(detect.Options{})
			if err != nil {
				t.Fatal(err)
			}
			o.Ingester = ingest.NewService(ingest.ServiceOptions{Engine: eng, Store: f.st}) // not rebuilt
		}),
	}
	// A server admitting one event in flight, taken by a request that waits for the committer: the
	// next request is shed.
	tiny := newShedServer(t, 1, 0, 0, false)
	tiny.hold(t)
	servers["tiny"] = tiny.url
	type req struct {
		srv, method, path, key, ctype, body string
		status                              int
	}
	big := `{"reason":"` + strings.Repeat("x", 70<<10) + `"}`
	// The flow of a day's work, in order, with the refusals met on the way.
	cases := []req{
		{"full", "POST", "/v1/events", ingestKey, "", loginJSON("c1", "VIC2", "198.51.100.9", "dev-9", mustTime("2025-04-11T16:00:00+09:00")), 200},
		{"full", "POST", "/v1/events", ingestKey, "", " ", 400},
		{"full", "POST", "/v1/events", ingestKey, "application/x-www-form-urlencoded", `{"id":"c2"}`, 415},
		{"full", "POST", "/v1/events", ingestKey, "", `{"id":`, 422},
		{"tiny", "POST", "/v1/events", ingestKey, "", loginJSON("c3", "VIC3", "198.51.100.9", "dev-9", mustTime("2025-04-11T16:00:00+09:00")), 429},
		{"full", "GET", "/v1/decisions?account=VIC", readKey, "", "", 200},
		{"full", "GET", "/v1/decisions?action=bogus", readKey, "", "", 400},
		{"full", "GET", "/v1/decisions/l2", ingestKey, "", "", 200},
		{"full", "GET", "/v1/decisions/nope", readKey, "", "", 404},
		{"full", "GET", "/v1/alerts?kind=account_takeover", readKey, "", "", 200},
		{"full", "GET", "/v1/campaigns", readKey, "", "", 200},
		{"full", "GET", "/v1/campaigns?at=yesterday", readKey, "", "", 400},
		{"bare", "GET", "/v1/campaigns", readKey, "", "", 404},
		{"full", "GET", "/v1/watchlist?all=true", readKey, "", "", 200},
		{"bare", "GET", "/v1/watchlist", readKey, "", "", 404},
		{"full", "POST", "/v1/watchlist", analystKey, "", `{"kind":"ip","value":"203.0.113.7","reason":"proxy"}`, 201},
		{"full", "POST", "/v1/watchlist", analystKey, "", `{"kind":"colour","value":"x","reason":"r"}`, 400},
		{"bare", "POST", "/v1/watchlist", analystKey, "", `{"kind":"ip","value":"203.0.113.7","reason":"proxy"}`, 404},
		{"nolayer", "POST", "/v1/watchlist", analystKey, "", `{"kind":"ip","value":"203.0.113.7","reason":"proxy"}`, 409},
		{"full", "POST", "/v1/watchlist/pin", analystKey, "", `{"kind":"ip","value":"203.0.113.7","pinned":true,"reason":"r"}`, 200},
		{"full", "POST", "/v1/watchlist/pin", analystKey, "", `{"kind":"ip","value":"203.0.113.8","pinned":true,"reason":"r"}`, 404},
		{"bare", "POST", "/v1/watchlist/pin", analystKey, "", `{"kind":"ip","value":"203.0.113.7","pinned":true,"reason":"r"}`, 404},
		{"nolayer", "POST", "/v1/watchlist/pin", analystKey, "", `{"kind":"ip","value":"203.0.113.7","pinned":true,"reason":"r"}`, 409},
		{"full", "POST", "/v1/watchlist/remove", analystKey, "", `{"kind":"ip","value":"203.0.113.7","reason":"r"}`, 200},
		{"full", "POST", "/v1/watchlist/remove", analystKey, "", `{"kind":"ip","value":"203.0.113.7","reason":"r"}`, 404},
		{"nolayer", "POST", "/v1/watchlist/remove", analystKey, "", `{"kind":"ip","value":"203.0.113.7","reason":"r"}`, 409},
		{"full", "POST", "/v1/accounts/VIC/unlock", analystKey, "", `{"reason":""}`, 400},
		{"full", "POST", "/v1/accounts/VIC/unlock", analystKey, "", `{"reason":"re-verified at the branch"}`, 200},
		{"full", "POST", "/v1/accounts/VIC/unlock", analystKey, "", `{"reason":"again"}`, 409},
		{"full", "POST", "/v1/accounts/NOBODY/unlock", analystKey, "", `{"reason":"r"}`, 404},
		{"bare", "POST", "/v1/accounts/VIC/unlock", analystKey, "", `{"reason":"r"}`, 404},
		{"full", "GET", "/v1/accounts/HLD/held", ingestKey, "", "", 200},
		{"full", "GET", "/v1/accounts/HLD/held?limit=0", readKey, "", "", 400},
		{"bare", "GET", "/v1/accounts/HLD/held", readKey, "", "", 404},
		{"full", "POST", "/v1/held/h-sell/release", ingestKey, "", `{"reason":"step-up","step_up":{"method":"otp","passed":false}}`, 400},
		{"full", "POST", "/v1/held/h-sell/release", ingestKey, "", `{"reason":"step-up","step_up":{"method":"otp","passed":true}}`, 200},
		{"full", "POST", "/v1/held/h-sell/cancel", analystKey, "", `{"reason":"too late"}`, 409},
		{"full", "POST", "/v1/held/nope/release", analystKey, "", `{"reason":"r"}`, 404},
		{"bare", "POST", "/v1/held/h-sell/release", analystKey, "", `{"reason":"r"}`, 404},
		{"full", "POST", "/v1/held/h-wd/cancel", analystKey, "", `{"reason":""}`, 400},
		{"full", "POST", "/v1/held/h-wd/cancel", analystKey, "", `{"reason":"payee is a mule"}`, 200},
		{"full", "POST", "/v1/held/nope/cancel", analystKey, "", `{"reason":"r"}`, 404},
		{"full", "POST", "/v1/held/h-wd/release", analystKey, "", `{"reason":"r"}`, 409},
		{"bare", "POST", "/v1/held/h-wd/cancel", analystKey, "", `{"reason":"r"}`, 404},
		{"full", "GET", "/v1/audit?action=watchlist.", readKey, "", "", 200},
		{"full", "GET", "/v1/audit?action=bogus", readKey, "", "", 400},
		{"bare", "GET", "/v1/audit", readKey, "", "", 404},
		{"full", "GET", "/v1/incidents?status=open", readKey, "", "", 200},
		{"full", "GET", "/v1/incidents?status=bogus", readKey, "", "", 400},
		{"bare", "GET", "/v1/incidents", readKey, "", "", 404},
		{"full", "POST", "/v1/incidents", analystKey, "", `{"id":"inc-manual","account":"VIC","orders":["ord-2"],"reason":"customer called"}`, 201},
		{"full", "POST", "/v1/incidents", analystKey, "", `{"id":"inc-manual","account":"VIC","orders":["ord-2"],"reason":"again"}`, 409},
		{"full", "POST", "/v1/incidents", analystKey, "", `{"account":"VIC","reason":"r"} trailing`, 400},
		{"bare", "POST", "/v1/incidents", analystKey, "", `{"account":"VIC","reason":"r"}`, 404},
		{"full", "GET", "/v1/incidents/inc-fr", readKey, "", "", 200},
		{"full", "GET", "/v1/incidents/nope", readKey, "", "", 404},
		{"full", "GET", "/v1/incidents/nope/reconstruction", readKey, "", "", 404},
		{"full", "GET", "/v1/incidents/inc-manual/evidence", readKey, "", "", 409},
		{"full", "GET", "/v1/incidents/nope/evidence", readKey, "", "", 404},
		{"full", "POST", "/v1/incidents/inc-fr/orders", analystKey, "", `{"add":["ord-1"],"reason":"customer confirms"}`, 200},
		{"full", "GET", "/v1/incidents/inc-fr/reconstruction", readKey, "", "", 200},
		{"full", "POST", "/v1/incidents/nope/orders", analystKey, "", `{"add":["ord-1"],"reason":"r"}`, 404},
		{"full", "POST", "/v1/incidents/inc-fr/executions", analystKey, "", `{"exclude":["ex-1"],"reason":"not the attacker's"}`, 200},
		{"full", "POST", "/v1/incidents/nope/executions", analystKey, "", `{"exclude":["ex-1"],"reason":"r"}`, 404},
		{"full", "POST", "/v1/incidents/inc-fr/assess", analystKey, "", `{"policy":"restore","reason":"next day's close"}`, 200},
		{"full", "POST", "/v1/incidents/nope/assess", analystKey, "", `{"policy":"restore","reason":"r"}`, 404},
		{"full", "POST", "/v1/incidents/nope/approve", superKey, "", `{"reason":"r"}`, 404},
		{"full", "POST", "/v1/incidents/inc-fr/approve", superKey, "", `{"reason":"four eyes"}`, 200},
		{"full", "POST", "/v1/incidents/inc-fr/approve", superKey, "", `{"reason":"again"}`, 409},
		{"full", "POST", "/v1/incidents/inc-fr/assess", analystKey, "", `{"policy":"restore","reason":"again"}`, 409},
		{"full", "POST", "/v1/incidents/inc-fr/orders", analystKey, "", `{"add":["ord-2"],"reason":"late"}`, 409},
		{"full", "POST", "/v1/incidents/inc-fr/executions", analystKey, "", `{"exclude":["ex-2"],"reason":"late"}`, 409},
		{"full", "GET", "/v1/incidents/inc-fr/evidence", readKey, "", "", 200},
		{"bare", "GET", "/v1/incidents/inc-fr", readKey, "", "", 404},
		{"bare", "GET", "/v1/incidents/inc-fr/reconstruction", readKey, "", "", 404},
		{"bare", "GET", "/v1/incidents/inc-fr/evidence", readKey, "", "", 404},
		{"bare", "POST", "/v1/incidents/inc-fr/orders", analystKey, "", `{"reason":"r"}`, 404},
		{"bare", "POST", "/v1/incidents/inc-fr/executions", analystKey, "", `{"reason":"r"}`, 404},
		{"bare", "POST", "/v1/incidents/inc-fr/assess", analystKey, "", `{"reason":"r"}`, 404},
		{"bare", "POST", "/v1/incidents/inc-fr/approve", superKey, "", `{"reason":"r"}`, 404},
		{"full", "GET", "/v1/compensations", readKey, "", "", 200},
		{"bare", "GET", "/v1/compensations", readKey, "", "", 404},
		{"full", "GET", "/v1/tally", readKey, "", "", 200},
		{"full", "GET", "/v1/tally?format=csv", readKey, "", "", 200},
		{"bare", "GET", "/v1/tally", readKey, "", "", 404},
		{"full", "POST", "/v1/tally/filings", superKey, "", `{"filing":"2025-04","reason":"monthly report"}`, 201},
		{"full", "POST", "/v1/tally/filings", superKey, "", `{"filing":"2025-04","reason":"again"}`, 409},
		{"bare", "POST", "/v1/tally/filings", superKey, "", `{"filing":"2025-04","reason":"r"}`, 404},
		{"full", "GET", "/v1/tally/filings", readKey, "", "", 200},
		{"bare", "GET", "/v1/tally/filings", readKey, "", "", 404},
		{"full", "GET", "/v1/tally/revisions?format=csv", readKey, "", "", 200},
		{"bare", "GET", "/v1/tally/revisions", readKey, "", "", 404},
		{"full", "POST", "/v1/notices/ntc-l9/answer", ingestKey, "", `{"answer":"maybe"}`, 400},
		{"full", "POST", "/v1/notices/ntc-none/answer", ingestKey, "", `{"answer":"no"}`, 404},
		{"full", "POST", "/v1/notices/ntc-l9/answer", ingestKey, "", `{"answer":"yes"}`, 200},
		{"full", "POST", "/v1/notices/ntc-l9/answer", ingestKey, "", `{"answer":"no"}`, 200},
		{"bare", "POST", "/v1/notices/ntc-l9/answer", ingestKey, "", `{"answer":"no"}`, 404},
		{"full", "GET", "/v1/openapi.json", "", "", "", 200},
		{"full", "GET", "/metrics", readKey, "", "", 200},
		{"bare", "GET", "/metrics", readKey, "", "", 404},
		{"full", "GET", "/healthz", "", "", "", 200},
		{"full", "GET", "/readyz", "", "", "", 200},
		{"notready", "GET", "/readyz", "", "", "", 503},
	}
	// Every keyed route: no key, a key of a role it refuses, a parameter it does not take, a body over
	// the limit, and a key ring whose store is down or broken.
	keyOf := map[string]string{RoleRead: readKey, RoleIngest: ingestKey, RoleAnalyst: analystKey, RoleSupervisor: superKey}
	fixtureRoles := []string{RoleIngest, RoleRead, RoleAnalyst, RoleSupervisor}
	for _, rt := range routes() {
		if rt.roles == nil {
			continue
		}
		path := strings.NewReplacer("{id}", "inc-fr", "{account}", "VIC").Replace(rt.path)
		cases = append(cases, req{"full", rt.method, path, "", "", "", 401},
			req{"down", rt.method, path, readKey, "", "", 503}, req{"broken", rt.method, path, readKey, "", "", 500})
		var allowed string
		for _, role := range fixtureRoles {
			if !slices.Contains(rt.roles, role) {
				cases = append(cases, req{"full", rt.method, path, keyOf[role], "", "", 403})
			} else if allowed == "" {
				allowed = keyOf[role]
			}
		}
		if strings.HasPrefix(rt.path, "/v1/") {
			cases = append(cases, req{"full", rt.method, path + "?bogus=1", allowed, "", "", 400})
		}
		if rt.method == "POST" {
			cases = append(cases, req{"full", rt.method, path, allowed, "", big, 413})
		}
	}

	seen := map[string]bool{} // "GET /v1/x 200"
	for _, c := range cases {
		a := call(t, servers[c.srv], c.method, c.path, c.key, c.ctype, c.body)
		name := fmt.Sprintf("%s %s %s", c.srv, c.method, c.path)
		if len(name) > 120 {
			name = name[:120]
		}
		if a.status != c.status {
			t.Errorf("%s: got %d, want %d (%.300s)", name, a.status, c.status, a.body)
			continue
		}
		hr, _ := http.NewRequest(c.method, "http://x"+c.path, nil)
		_, pattern := f.api.mux.Handler(hr)
		method, tmpl, _ := strings.Cut(pattern, " ")
		op, ok := doc.Paths[tmpl][strings.ToLower(method)]
		if !ok {
			t.Errorf("%s: route %q is not in the description", name, pattern)
			continue
		}
		code := fmt.Sprint(a.status)
		seen[pattern+" "+code] = true
		resp, ok := op.Responses[code]
		if !ok {
			t.Errorf("%s: answered %d, which the description does not list", name, a.status)
			continue
		}
		mt, _, _ := mime.ParseMediaType(a.header.Get("Content-Type"))
		if a.status >= 400 {
			want := "#/components/responses/Error"
			if a.status == http.StatusTooManyRequests {
				want = "#/components/responses/Overloaded"
				if ra := a.header.Get("Retry-After"); ra != "1" {
					t.Errorf("%s: Retry-After %q, want 1", name, ra)
				}
			}
			if resp.Ref != want {
				t.Errorf("%s: the description's %d is %q, want %q", name, a.status, resp.Ref, want)
			}
			if mt != "application/json" {
				t.Errorf("%s: error of type %q, want application/json", name, mt)
			}
			if err := checkError(doc, a.body); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		} else if _, ok := resp.Content[mt]; !ok {
			t.Errorf("%s: answered %s, the description lists %v", name, mt, keys(resp.Content))
		}
		keyed := slices.ContainsFunc(routes(), func(rt route) bool { return rt.method+" "+rt.path == pattern && rt.roles != nil })
		if cc := a.header.Get("Cache-Control"); keyed && cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", name, cc)
		}
	}
	// Every status the description lists was seen live.
	var missing []string
	for p, ops := range doc.Paths {
		for m, op := range ops {
			for code := range op.Responses {
				if k := strings.ToUpper(m) + " " + p + " " + code; !seen[k] {
					missing = append(missing, k)
				}
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("documented statuses never answered live:\n%s", strings.Join(missing, "\n"))
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIQueryParameters checks that each route takes exactly the query parameters the description
// lists, and that every value of every enum is accepted and a value outside it refused, naming the
// parameter and the values it takes.
func TestOpenAPIQueryParameters(t *testing.T) {
	f := newFixture(t)
	doc := readDoc(t)
	for _, rt := range routes() {
		op := doc.Paths[rt.path][strings.ToLower(rt.method)]
		var inDoc []string
		for _, p := range op.Parameters {
			if p.In != "query" {
				continue
			}
			inDoc = append(inDoc, p.Name)
			enum := p.Schema.Enum
			if p.Schema.Ref == "#/components/schemas/Action" {
				enum = doc.Components.Schemas.Action.Enum
			}
			if len(enum) == 0 || rt.method != "GET" {
				continue
			}
			for _, v := range enum {
				if a := call(t, f.url, rt.method, rt.path+"?"+p.Name+"="+v, superKey, "", ""); a.status != 200 {
					t.Errorf("%s %s?%s=%s: got %d, want 200 (%s)", rt.method, rt.path, p.Name, v, a.status, a.body)
				}
			}
			a := call(t, f.url, rt.method, rt.path+"?"+p.Name+"=bogus", superKey, "", "")
			var m map[string]any
			_ = json.Unmarshal([]byte(a.body), &m)
			e, _ := m["error"].(map[string]any)
			if a.status != 400 || e["field"] != p.Name || !strings.Contains(a.body, strings.Join(enum, ", ")) {
				t.Errorf("%s %s?%s=bogus: got %d %s, want 400 naming %s and the values %v", rt.method, rt.path, p.Name, a.status, a.body, p.Name, enum)
			}
		}
		sort.Strings(inDoc)
		served := slices.Clone(rt.query)
		sort.Strings(served)
		if fmt.Sprint(inDoc) != fmt.Sprint(served) {
			t.Errorf("%s %s: the description's query parameters %v, served %v", rt.method, rt.path, inDoc, served)
		}
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
