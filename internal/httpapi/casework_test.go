package httpapi

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// loginJSON is a successful login of account from ip at t.
func loginJSON(id, account, ip, device string, t time.Time) string {
	return fmt.Sprintf(`{"id":%q,"type":"login","time":%q,"account":%q,"result":"success","method":"password","session":"s-%s",`+
		`"ip":%q,"user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36",`+
		`"device":%q,"channel":"web"}`, id, t.Format(time.RFC3339Nano), account, id, ip, device)
}

func decisionOf(t *testing.T, m map[string]any) (string, string) {
	t.Helper()
	d, _ := m["decision"].(map[string]any)
	if d == nil {
		t.Fatalf("no decision in %v", m)
	}
	var codes []string
	rs, _ := d["reasons"].([]any)
	for _, r := range rs {
		codes = append(codes, r.(map[string]any)["code"].(string))
	}
	return d["action"].(string), strings.Join(codes, ",")
}

func TestWatchlistEndpoints(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	add := `{"kind":"ip","value":"203.0.113.77","reason":"proxy seen in the 4/11 campaign"}`
	for _, c := range []struct {
		name, key, body string
		status          int
		code, msg       string
	}{
		{"no key", "", add, 401, CodeUnauthorized, ""},
		{"read role", readKey, add, 403, CodeForbidden, ""},
		{"ingest role", ingestKey, add, 403, CodeForbidden, ""},
		{"no reason", analystKey, `{"kind":"ip","value":"203.0.113.77"}`, 400, CodeBadRequest, "reason"},
		{"bad kind", analystKey, `{"kind":"colour","value":"x","reason":"r"}`, 400, CodeBadRequest, "colour"},
		{"bad address", analystKey, `{"kind":"ip","value":"999.1.1.1","reason":"r"}`, 400, CodeBadRequest, "999.1.1.1"},
		{"unknown field", analystKey, `{"kind":"ip","value":"203.0.113.77","reason":"r","colour":1}`, 400, CodeBadRequest, "colour"},
		{"past expiry", analystKey, `{"kind":"ip","value":"203.0.113.77","reason":"r","expires":"2020-01-01T00:00:00Z"}`, 400, CodeBadRequest, "expires"},
	} {
		status, m, body := f.do(t, "POST", "/v1/watchlist", c.key, c.body)
		if status != c.status || errCode(m) != c.code || !strings.Contains(body, c.msg) {
			t.Errorf("%s: %d %s, want %d %s mentioning %q", c.name, status, body, c.status, c.code, c.msg)
		}
	}
	if _, m, _ := f.do(t, "GET", "/v1/watchlist", readKey, ""); len(m["entries"].([]any)) != 0 {
		t.Fatalf("a refused request changed the watchlist: %v", m)
	}

	status, m, body := f.do(t, "POST", "/v1/watchlist", analystKey, add)
	if status != 201 {
		t.Fatalf("add: %d %s", status, body)
	}
	e := m["entry"].(map[string]any)
	if e["by"] != "desk-sato" || e["source"] != "analyst" || e["pinned"] != false {
		t.Errorf("entry = %v", e)
	}

	// A login from the watched address is challenged at once.
	status, m, body = f.do(t, "POST", "/v1/events", ingestKey, loginJSON("w1", "ACC-1", "203.0.113.77", "dev-1", now))
	if status != 200 {
		t.Fatalf("login: %d %s", status, body)
	}
	if action, codes := decisionOf(t, m); action != "challenge" || !strings.Contains(codes, "LOGIN_FROM_SUSPECT_INFRASTRUCTURE") {
		t.Errorf("login from watched address: %s (%s)", action, codes)
	}

	// Pin, then the audit trail shows both actions with their author and reason.
	if status, _, body := f.do(t, "POST", "/v1/watchlist/pin", analystKey, `{"kind":"ip","value":"203.0.113.77","pinned":true,"reason":"keep until the case closes"}`); status != 200 {
		t.Fatalf("pin: %d %s", status, body)
	}
	_, m, _ = f.do(t, "GET", "/v1/audit?target=ip:203.0.113.77", readKey, "")
	recs := m["records"].([]any)
	if len(recs) != 2 {
		t.Fatalf("audit = %v", m)
	}
	r0 := recs[0].(map[string]any)
	if r0["action"] != "watchlist.add" || r0["actor"] != "desk-sato" || r0["reason"] != "proxy seen in the 4/11 campaign" {
		t.Errorf("audit record = %v", r0)
	}

	// Remove; a second removal is 404, and a login from the address is no longer challenged for it.
	if status, _, body := f.do(t, "POST", "/v1/watchlist/remove", analystKey, `{"kind":"ip","value":"203.0.113.77","reason":"false positive"}`); status != 200 {
		t.Fatalf("remove: %d %s", status, body)
	}
	if status, m, _ := f.do(t, "POST", "/v1/watchlist/remove", analystKey, `{"kind":"ip","value":"203.0.113.77","reason":"again"}`); status != 404 || errCode(m) != CodeNotFound {
		t.Errorf("second remove: %d %v", status, m)
	}
	_, m, _ = f.do(t, "POST", "/v1/events", ingestKey, loginJSON("w2", "ACC-2", "203.0.113.77", "dev-2", now.Add(time.Second)))
	if _, codes := decisionOf(t, m); strings.Contains(codes, "SUSPECT_INFRASTRUCTURE") {
		t.Errorf("removed entry still applies: %s", codes)
	}
	if _, m, _ := f.do(t, "GET", "/v1/campaigns", readKey, ""); m["campaigns"] == nil {
		t.Errorf("campaigns = %v", m)
	}
}

func TestUnlockAfterFraudReport(t *testing.T) {
	f := newFixture(t)
	now := time.Now().Add(-time.Minute)
	post := func(ev string) map[string]any {
		t.Helper()
		status, m, body := f.do(t, "POST", "/v1/events", ingestKey, ev)
		if status != 200 {
			t.Fatalf("event: %d %s", status, body)
		}
		return m
	}
	post(loginJSON("u1", "VIC", "198.51.100.4", "dev-v", now))
	if status, m, _ := f.do(t, "POST", "/v1/accounts/VIC/unlock", analystKey, `{"reason":"re-verified"}`); status != 409 || errCode(m) != CodeConflict {
		t.Errorf("unlock of an unlocked account: %d %v", status, m)
	}
	post(fmt.Sprintf(`{"id":"fr1","type":"fraud_report","time":%q,"account":"VIC","channel":"phone"}`, now.Add(time.Second).Format(time.RFC3339Nano)))
	if action, _ := decisionOf(t, post(loginJSON("u2", "VIC", "198.51.100.4", "dev-v", now.Add(2*time.Second)))); action != "block" {
		t.Fatalf("login after the report: %s, want block", action)
	}
	if status, _, _ := f.do(t, "POST", "/v1/accounts/VIC/unlock", readKey, `{"reason":"x"}`); status != 403 {
		t.Errorf("read key unlocked: %d", status)
	}
	if status, m, _ := f.do(t, "POST", "/v1/accounts/NOBODY/unlock", analystKey, `{"reason":"x"}`); status != 404 {
		t.Errorf("unknown account: %d %v", status, m)
	}
	if status, _, body := f.do(t, "POST", "/v1/accounts/VIC/unlock", analystKey, `{"reason":"identity re-verified at the branch"}`); status != 200 {
		t.Fatalf("unlock: %d %s", status, body)
	}
	if action, codes := decisionOf(t, post(loginJSON("u3", "VIC", "198.51.100.4", "dev-v", now.Add(3*time.Second)))); action == "block" {
		t.Errorf("login after unlock: %s (%s)", action, codes)
	}
	_, m, _ := f.do(t, "GET", "/v1/audit?action=account.unlock", readKey, "")
	if recs := m["records"].([]any); len(recs) != 1 || recs[0].(map[string]any)["target"] != "account:VIC" {
		t.Errorf("audit = %v", m)
	}
}
