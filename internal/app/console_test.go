package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/httpapi"
	"github.com/brokerguard/brokerguard/internal/sim"
	"github.com/brokerguard/brokerguard/internal/store"
)

// consoleServer is a running serve (API and console) over a real SQLite store filled by replaying a
// simulated firm, with a console user.
type consoleServer struct {
	url, user, password string
	store               store.Store
}

// startConsoleServer simulates scenario, replays it into SQLite in a temporary data directory and
// serves the result on loopback, as demo does.
func startConsoleServer(t testing.TB, scenario string) *consoleServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir, cfg.Server.Listen = dir, "127.0.0.1:0"
	quiet := newLogger(io.Discard, cfg)
	sc, err := loadScenario(scenario)
	if err != nil {
		t.Fatal(err)
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	start := time.Now()
	if _, err := writeSimulation(ctx, sc, 1, p("events.jsonl"), p("truth.json"), nil); err != nil {
		t.Fatal(err)
	}
	eng, err := buildEngineWith(cfg, quiet, engineWith{ip: sim.IPIntel()})
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replayFiles(ctx, eng, st, cfg, p("events.jsonl"), p("decisions.jsonl"), p("alerts.jsonl"), nil); err != nil {
		t.Fatal(err)
	}
	eng.Close()
	u, err := addDemoUser(ctx, st, dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	eng2, err := buildEngineWith(cfg, quiet, engineWith{ip: sim.IPIntel(), lateness: cfg.Lateness})
	if err != nil {
		t.Fatal(err)
	}
	var k config.APIKey
	k.SetKey("console-test-key-0123456789")
	sctx, cancel := context.WithCancel(ctx)
	srv, err := startServer(sctx, eng2, st, cfg, []httpapi.Key{{Name: "t", Role: httpapi.RoleAdmin, Hash: k.Hash()}}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.wait(); st.Close(); eng2.Close() })
	t.Logf("scenario %s simulated, replayed and served in %s", scenario, time.Since(start).Round(time.Millisecond))
	return &consoleServer{url: "http://" + srv.addr, user: u.name, password: u.password, store: st}
}

// chromium returns the path of the browser, or skips the test without one (fails under CI).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (.ci/run installs it)")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium)")
	return ""
}

// screenshotDir is where the browser test keeps its screenshots: BROKERGUARD_SCREENSHOTS, or the
// test's temporary directory. (BROKERGUARD_CONSOLE_SCENARIO=demo runs the test on the demo's firm.)
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("BROKERGUARD_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestConsoleInChromium drives a real headless Chromium through the console of a server holding a
// simulated firm's day of attack: sign in, the dashboard, the alert queue, an alert, its account, the
// campaign's chart, sign out; a screenshot of each page is kept.
func TestConsoleInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates and replays a firm, then drives a browser")
	}
	exe := chromium(t)
	scenario := "small"
	if sc := os.Getenv("BROKERGUARD_CONSOLE_SCENARIO"); sc != "" {
		scenario = sc // demo: the README's screenshot
	}
	srv := startConsoleServer(t, scenario)
	shots := screenshotDir(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1366, 900),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("lang", "en-US"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelTimeout()
	do := func(name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
		if err != nil {
			t.Fatalf("count %s: %v", sel, err)
		}
		return n
	}
	location := func() string {
		t.Helper()
		l, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(shots, name+".png")
		if err := os.WriteFile(path, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", path)
	}
	// The stylesheet and the script load under the CSP: the header takes its colour from the
	// stylesheet, and the script marks the page.
	assets := func(page string) {
		t.Helper()
		bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header.top")).backgroundColor`))
		if err != nil || bg != "rgb(20, 33, 61)" {
			t.Errorf("%s: header background %q (%v): the stylesheet did not load", page, bg, err)
		}
		js, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.dataset.js || ""`))
		if err != nil || js != "on" {
			t.Errorf("%s: the console's script did not run (%q, %v)", page, js, err)
		}
	}

	do("open the console", chromedp.Navigate(srv.url+"/"), chromedp.WaitVisible(chromedp.ID("signin")))
	if l := location(); !strings.Contains(l, "/signin") {
		t.Fatalf("not signed in, / went to %s, want the sign-in page", l)
	}
	assets("sign-in")
	shot("01-signin")
	do("sign in", chromedp.SendKeys(chromedp.ID("name"), srv.user), chromedp.SendKeys(chromedp.ID("password"), srv.password),
		chromedp.Click(chromedp.ID("signin")), chromedp.WaitVisible(chromedp.CSS("#decisions-chart")))
	if h := text("h1"); h != "Dashboard" {
		t.Fatalf("after sign-in: page %q at %s, want the dashboard", h, location())
	}
	assets("dashboard")
	shot("02-dashboard")
	do("alert queue", chromedp.Click(chromedp.CSS(`header nav a[href="/alerts"]`)), chromedp.WaitVisible(chromedp.ID("queue")))
	if n := count("#queue a.alert-link"); n == 0 {
		t.Fatal("the alert queue is empty")
	}
	shot("03-alerts")
	do("takeovers", chromedp.Navigate(srv.url+"/alerts?kind=account_takeover"), chromedp.WaitVisible(chromedp.ID("queue")))
	do("open an alert", chromedp.Click(chromedp.CSS("#queue a.alert-link")), chromedp.WaitVisible(chromedp.ID("alert-status")),
		chromedp.Click(chromedp.ID("assign")), chromedp.WaitVisible(chromedp.CSS(".ok")))
	if a := text("#alert-assignee"); a != srv.user {
		t.Errorf("assign to me: the alert's assignee is %q, want %q", a, srv.user)
	}
	shot("04-alert")
	do("go to the account", chromedp.Click(chromedp.CSS("a.account-link")), chromedp.WaitVisible(chromedp.ID("timeline")))
	if n := count("#timeline tbody tr"); n < 2 {
		t.Errorf("account timeline: %d rows, want the account's events and decisions", n)
	}
	shot("05-account")
	// An account a fraud report locked: unlocked from its page, through casework's audited unlock.
	reported := reportedAccount(t, srv.store)
	do("a reported account", chromedp.Navigate(srv.url+"/accounts/"+reported), chromedp.WaitVisible(chromedp.ID("unlock")))
	if st := text("#account-state"); st != "locked" {
		t.Errorf("a reported account: state %q, want locked", st)
	}
	do("unlock", chromedp.SendKeys(chromedp.CSS(`form.with-reason input[name="reason"]`), "re-verified at the branch with ID"),
		chromedp.Click(chromedp.ID("unlock")), chromedp.WaitVisible(chromedp.CSS(".ok")))
	if st := text("#account-state"); st != "not locked" {
		t.Errorf("after unlock: state %q, want not locked", st)
	}
	// The watchlist: an address block added from the page, through casework.
	do("watchlist", chromedp.Click(chromedp.CSS(`header nav a[href="/watchlist"]`)), chromedp.WaitVisible(chromedp.ID("watch-add")),
		chromedp.SetValue(chromedp.CSS(`#watch-add select[name="kind"]`), "prefix"),
		chromedp.SendKeys(chromedp.CSS(`#watch-add input[name="value"]`), "45.76.10.0/24"),
		chromedp.SendKeys(chromedp.CSS(`#watch-add input[name="reason"]`), "the proxy of the campaign"),
		chromedp.Click(chromedp.ID("watch-add-button")), chromedp.WaitVisible(chromedp.CSS(".ok")))
	if !strings.Contains(text("#watchlist"), "45.76.10.0/24") {
		t.Error("the address block added is not on the watchlist")
	}
	shot("06-watchlist")
	do("campaigns", chromedp.Click(chromedp.CSS(`header nav a[href="/campaigns"]`)), chromedp.WaitVisible(chromedp.CSS("a.campaign-link")),
		chromedp.Click(chromedp.CSS("a.campaign-link")), chromedp.WaitVisible(chromedp.CSS("#campaign-chart svg")))
	if buys, victims := count("#campaign-chart path.buy"), count("#victims tbody tr"); buys == 0 || victims == 0 {
		t.Errorf("campaign chart: %d hijacked buys marked, %d victims listed; want some of each", buys, victims)
	}
	shot("07-campaign")
	do("Japanese", chromedp.Click(chromedp.ID("lang-switch")), chromedp.WaitVisible(chromedp.CSS("#campaign-chart svg")))
	if b := text("#signout"); b != "サインアウト" {
		t.Errorf("the language switch: sign-out button %q, want サインアウト", b)
	}
	shot("08-campaign-ja")
	do("sign out", chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("signin")))
	if l := location(); !strings.Contains(l, "/signin") {
		t.Errorf("after sign-out: at %s, want the sign-in page", l)
	}
	do("signed out", chromedp.Navigate(srv.url+"/alerts"), chromedp.WaitVisible(chromedp.ID("signin")))
	if l := location(); !strings.Contains(l, "/signin") {
		t.Errorf("the queue after sign-out: at %s, want the sign-in page", l)
	}
	recs, err := srv.store.Audit(context.Background(), store.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, r := range recs {
		if r.Actor == srv.user {
			acts = append(acts, r.Action)
		}
	}
	if want := []string{"console.signin", "alert.assign", "account.unlock", "watchlist.add", "console.signout"}; !slices.Equal(acts, want) {
		t.Errorf("audit trail of the session: got %v, want %v", acts, want)
	}
}

// reportedAccount returns an account that a fraud report locked.
func reportedAccount(t *testing.T, st store.Store) string {
	t.Helper()
	as, err := st.Alerts(context.Background(), store.AlertQuery{Kind: "account_takeover", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if len(a.Reasons) > 0 && a.Reasons[0].Code == "FRAUD_REPORTED" && len(a.Accounts) == 1 {
			return a.Accounts[0]
		}
	}
	t.Fatal("no fraud report in the simulated firm")
	return ""
}

// signInHTTP signs in over plain HTTP and returns the client.
func signInHTTP(tb testing.TB, srv *consoleServer) *http.Client {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(srv.url + "/signin")
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(b)
	if m == nil {
		tb.Fatal("no CSRF token on the sign-in page")
	}
	resp, err = c.PostForm(srv.url+"/signin", url.Values{"csrf": {string(m[1])}, "name": {srv.user}, "password": {srv.password}})
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("sign-in: %d", resp.StatusCode)
	}
	return c
}

// BenchmarkConsolePages measures the server time of the console's main pages on the demo's data (the
// demo scenario, seed 1), over real HTTP on loopback; it reports the median and p95 of each page.
func BenchmarkConsolePages(b *testing.B) {
	srv := startConsoleServer(b, "demo")
	c := signInHTTP(b, srv)
	cmps, err := srv.store.Alerts(context.Background(), store.AlertQuery{Kind: "campaign", Limit: 1})
	if err != nil || len(cmps) == 0 {
		b.Fatalf("no campaign alert in the demo: %v", err)
	}
	ato, err := srv.store.Alerts(context.Background(), store.AlertQuery{Kind: "account_takeover", Limit: 1})
	if err != nil || len(ato) == 0 {
		b.Fatalf("no takeover alert in the demo: %v", err)
	}
	pages := []string{"/", "/alerts", "/alerts?kind=account_takeover", fmt.Sprintf("/alerts/%d", ato[0].Seq),
		"/accounts/" + url.PathEscape(ato[0].Accounts[0]), "/campaigns", "/campaigns/" + cmps[0].Symbols[0]}
	for _, p := range pages {
		b.Run(strings.NewReplacer("/", "_", "?", "_", "=", "_").Replace(p), func(b *testing.B) {
			var ds []time.Duration
			for b.Loop() {
				st := time.Now()
				resp, err := c.Get(srv.url + p)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %d", p, resp.StatusCode)
				}
				ds = append(ds, time.Since(st))
			}
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "ms-median")
			b.ReportMetric(float64(ds[min(len(ds)-1, len(ds)*95/100)].Microseconds())/1000, "ms-p95")
		})
	}
}

// TestServeMountsConsole checks the split of paths between the API and the console on one server:
// the API's paths answer as before (JSON, keys), everything else is the console's.
func TestServeMountsConsole(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := config.Default()
	cfg.DataDir, cfg.Server.Listen = t.TempDir(), "127.0.0.1:0"
	quiet := newLogger(io.Discard, cfg)
	p, err := buildEngine(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	st, _, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var k config.APIKey
	k.SetKey("mount-test-key-0123456789")
	srv, err := startServer(ctx, p, st, cfg, []httpapi.Key{{Name: "t", Role: httpapi.RoleAdmin, Hash: k.Hash()}}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); srv.wait() }()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		path, key string
		status    int
		ctype     string
		location  string
	}{
		{"/", "", http.StatusSeeOther, "", "/signin?next=%2F"},
		{"/signin", "", http.StatusOK, "text/html; charset=utf-8", ""},
		{"/static/console.css", "", http.StatusOK, "text/css; charset=utf-8", ""},
		{"/alerts", "mount-test-key-0123456789", http.StatusSeeOther, "", "/signin?next=%2Falerts"}, // an API key is no console session
		{"/healthz", "", http.StatusOK, "", ""},
		{"/v1/openapi.json", "", http.StatusOK, "application/json", ""},
		{"/v1/alerts", "", http.StatusUnauthorized, "application/json", ""},
		{"/v1/alerts", "mount-test-key-0123456789", http.StatusOK, "application/json", ""},
		{"/v1/nothing", "mount-test-key-0123456789", http.StatusNotFound, "application/json", ""},
		{"/metrics", "", http.StatusUnauthorized, "application/json", ""},
		{"/nothing", "", http.StatusNotFound, "text/html; charset=utf-8", ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+srv.addr+tc.path, nil)
		if tc.key != "" {
			req.Header.Set("Authorization", "Bearer "+tc.key)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.ctype != "" && !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype)) ||
			resp.Header.Get("Location") != tc.location {
			t.Errorf("GET %s: got %d %q to %q, want %d %q to %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"),
				resp.Header.Get("Location"), tc.status, tc.ctype, tc.location)
		}
	}
}
