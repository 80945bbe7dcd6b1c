package app

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/event"
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
	alerts := func(srv *testServer) []event.Alert {
		var page struct{ Items []event.Alert }
		if err := json.Unmarshal(srv.mustCall("GET", "/v1/alerts?kind=phishing_site", ""), &page); err != nil {
			t.Fatal(err)
		}
		return page.Items
	}
	wait := func(srv *testServer, n int) []event.Alert {
		t.Helper()
		for range 100 {
			if a := alerts(srv); len(a) >= n {
				return a
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("fewer than %d phishing_site alerts after 10 s: %+v", n, alerts(srv))
		return nil
	}
	srv := startTestServer(t, cfg)
	got := wait(srv, 2)
	for _, a := range got {
		if !strings.Contains(a.Reasons[0].Detail, "sbisec-login.top imitates") || !strings.Contains(a.Reasons[0].Detail, "precertificate by Example Trust") {
			t.Errorf("alert %+v", a)
		}
	}
	l.Issue(false, "sbisec.verify-now.click") // while it runs
	wait(srv, 3)
	srv.stop()

	l.Issue(false, "sbisce.jp") // while it is down
	srv = startTestServer(t, cfg)
	got = wait(srv, 4)
	time.Sleep(1500 * time.Millisecond) // another round: nothing read twice
	if got = alerts(srv); len(got) != 4 {
		t.Fatalf("%d alerts after a restart, want 4: %+v", len(got), got)
	}
}
