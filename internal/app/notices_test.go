package app

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/brokerguard/brokerguard/internal/config"
)

// TestServeSendsNotices: a login from a new device and a change of e-mail, sent to serve, reach the
// firm's app as signed notices that an independent Standard Webhooks implementation accepts, once each;
// a login as usual sends nothing.
func TestServeSendsNotices(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []map[string]any
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := wh.Verify(body, r.Header); err != nil {
			t.Errorf("webhook signature: %v", err)
			http.Error(w, "bad signature", 401)
			return
		}
		var m map[string]any
		json.Unmarshal(body, &m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	defer app.Close()

	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(secretFile, []byte(secret), 0o600)
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Notices.Firm = "SBI証券"
	cfg.Notices.Every = 100 * time.Millisecond
	cfg.Notices.Webhook.URL = app.URL
	cfg.Notices.Webhook.SecretFile = secretFile
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := startTestServer(t, cfg)
	post := func(body string) {
		t.Helper()
		srv.mustCall("POST", "/v1/events", body)
	}
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36"
	post(`{"id":"snap","type":"snapshot","time":"2025-04-01T08:00:00+09:00","account":"A1","cash":1000000,"holdings":[],"opened":"2015-01-01","mfa":"sms_otp","notifications":true}`)
	for d := 1; d <= 5; d++ {
		post(`{"id":"l` + string(rune('0'+d)) + `","type":"login","time":"2025-04-0` + string(rune('0'+d)) + `T10:00:00+09:00","account":"A1","result":"success","method":"password","session":"s` + string(rune('0'+d)) + `","ip":"153.1.4.9","device":"own","user_agent":"` + ua + `","country":"JP","channel":"web"}`)
	}
	post(`{"id":"new","type":"login","time":"2025-04-07T02:00:00+09:00","account":"A1","result":"success","method":"password","session":"s9","ip":"45.76.10.3","device":"other","user_agent":"` + ua + `","country":"SG","channel":"web"}`)
	post(`{"id":"chg","type":"profile_change","time":"2025-04-07T02:01:00+09:00","account":"A1","session":"s9","ip":"45.76.10.3","device":"other","user_agent":"` + ua + `","field":"email"}`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a few more rounds: nothing sent twice
	mu.Lock()
	var types []string
	for _, m := range got {
		types = append(types, m["type"].(string)+":"+m["data"].(map[string]any)["id"].(string))
		msg := m["message"].(map[string]any)
		if strings.Contains(msg["Text"].(string), "http") {
			t.Errorf("a notice with a link: %s", msg["Text"])
		}
	}
	if strings.Join(types, " ") != "notice.login:ntc-new notice.account_change:ntc-chg" {
		t.Fatalf("notices %v, want the new login and the change of e-mail, once each", types)
	}
	mu.Unlock()

	// The customer answers in the app: "no" to the login is a fraud report (the account locked, an
	// incident opened), "yes" to the change a label in the audit trail; answering again is a duplicate.
	answer := func(id, a string) map[string]any {
		t.Helper()
		var m map[string]any
		json.Unmarshal(srv.mustCall("POST", "/v1/notices/"+id+"/answer", `{"answer":"`+a+`"}`), &m)
		return m
	}
	if m := answer("ntc-new", "no"); m["status"] != "recorded" || m["fraud_report"] != "fraud-report-ntc-new" || m["account"] != "A1" {
		t.Fatalf("answer no: %v", m)
	}
	if m := answer("ntc-new", "no"); m["status"] != "duplicate" {
		t.Fatalf("answer no again: %v", m)
	}
	if m := answer("ntc-chg", "yes"); m["status"] != "recorded" {
		t.Fatalf("answer yes: %v", m)
	}
	if status, body := srv.call("POST", "/v1/notices/ntc-nothing/answer", `{"answer":"no"}`); status != 404 {
		t.Fatalf("an unknown notice: %d %s", status, body)
	}
	var dec struct{ Action string }
	post(`{"id":"after","type":"login","time":"2025-04-07T03:00:00+09:00","account":"A1","result":"success","method":"password","session":"s10","ip":"153.1.4.9","device":"own","user_agent":"` + ua + `","country":"JP","channel":"web"}`)
	json.Unmarshal(srv.mustCall("GET", "/v1/decisions/after", ""), &dec)
	if dec.Action != "block" {
		t.Errorf("a login after the customer's \"not me\": %s, want block (the account is locked)", dec.Action)
	}
	if body := srv.mustCall("GET", "/v1/incidents?account=A1", ""); !strings.Contains(string(body), "fraud-report-ntc-new") {
		t.Errorf("incidents of A1: %s, want the customer's report", body)
	}
	if body := srv.mustCall("GET", "/v1/audit?action=notice.confirmed", ""); !strings.Contains(string(body), "notice:ntc-chg") {
		t.Errorf("audit: %s, want the customer's confirmation", body)
	}
}
