package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/httpapi"
	"github.com/brokerguard/brokerguard/internal/phishing/cttest"
)

// TestServeFollowsCTLogs runs serve against a CT log on loopback: the lookalike names of certificates
// logged before and while it runs become phishing_site alerts over the API, once each, across a
// restart.
func TestServeFollowsCTLogs(t *testing.T) {
	l := cttest.New(t)
	l.Issue(false, "www.sbisec.co.jp")
	l.Issue(true, "sbisec-login.top", "www.sbisec-login.top")
	l.Issue(false, "shop.example.com")
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Phishing = config.Phishing{Domains: []string{"sbisec.co.jp"}, CTPoll: time.Second, CTFromStart: true,
		CTLogs: []config.CTLog{{URL: l.URL, PublicKey: base64.StdEncoding.EncodeToString(l.PublicKey())}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	const key = "phishing-test-key-0123456789"
	var k config.APIKey
	k.SetKey(key)
	start := func() (string, func()) {
		quiet := newLogger(io.Discard, cfg)
		p, err := buildEngine(cfg, quiet)
		if err != nil {
			t.Fatal(err)
		}
		st, _, err := openStore(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := startServer(ctx, p, st, cfg, []httpapi.Key{{Name: "t", Role: httpapi.RoleAdmin, Hash: k.Hash()}}, quiet)
		if err != nil {
			t.Fatal(err)
		}
		return "http://" + srv.addr, func() { cancel(); srv.wait(); st.Close(); p.Close() }
	}
	alerts := func(url string) []event.Alert {
		req, _ := http.NewRequest("GET", url+"/v1/alerts?kind=phishing_site", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var page struct{ Items []event.Alert }
		if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /v1/alerts: %d %v", resp.StatusCode, err)
		}
		return page.Items
	}
	wait := func(url string, n int) []event.Alert {
		t.Helper()
		for range 100 {
			if a := alerts(url); len(a) >= n {
				return a
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("fewer than %d phishing_site alerts after 10 s: %+v", n, alerts(url))
		return nil
	}
	url, stop := start()
	got := wait(url, 2)
	for _, a := range got {
		if !strings.Contains(a.Reasons[0].Detail, "sbisec-login.top imitates") || !strings.Contains(a.Reasons[0].Detail, "precertificate by Example Trust") {
			t.Errorf("alert %+v", a)
		}
	}
	l.Issue(false, "sbisec.verify-now.click") // while it runs
	wait(url, 3)
	stop()

	l.Issue(false, "sbisce.jp") // while it is down
	url, stop = start()
	defer stop()
	got = wait(url, 4)
	time.Sleep(1500 * time.Millisecond) // another round: nothing read twice
	if got = alerts(url); len(got) != 4 {
		t.Fatalf("%d alerts after a restart, want 4: %+v", len(got), got)
	}
}
