package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/campaign"
	"github.com/brokerguard/brokerguard/internal/desk"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/profile"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

var jst = time.FixedZone("JST", 9*3600)

// clock is a wall clock the tests move.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lockState is the engine's side of Accounts in these tests: which accounts are known and locked.
// Unlock audits through the store, as casework does.
type lockState struct {
	mu     sync.Mutex
	locked map[string]bool
	audit  Audit
}

func (l *lockState) Locked(account string) (bool, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	locked, known := l.locked[account]
	return known, locked
}

func (l *lockState) Unlock(ctx context.Context, actor, account, reason string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.locked[account] {
		return fmt.Errorf("%w: %s", ErrConflict, account)
	}
	if err := l.audit.AppendAudit(ctx, &store.AuditRecord{Time: time.Now(), Actor: actor, Action: "account.unlock", Target: "account:" + account, Reason: reason}); err != nil {
		return err
	}
	l.locked[account] = false
	return nil
}

// watchlist is the campaign layer's side of Watchlist in these tests; changes are audited through the
// store, as casework does.
type watchlist struct {
	mu      sync.Mutex
	entries []campaign.Entry
	audit   Audit
}

func (w *watchlist) Entries(time.Time, bool) []campaign.Entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.entries)
}

func (w *watchlist) change(ctx context.Context, actor, action, kind, value, reason string, apply func() error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.audit.AppendAudit(ctx, &store.AuditRecord{Time: time.Now(), Actor: actor, Action: action, Target: kind + ":" + value, Reason: reason}); err != nil {
		return err
	}
	return apply()
}

func (w *watchlist) Add(ctx context.Context, actor, kind, value, reason string, pinned bool) error {
	if kind == "prefix" && !strings.Contains(value, "/") {
		return fmt.Errorf("%w: prefix %q: want an address block", ErrInvalid, value)
	}
	return w.change(ctx, actor, "watchlist.add", kind, value, reason, func() error {
		w.entries = append(w.entries, campaign.Entry{Kind: kind, Value: value, Reason: reason, Source: "analyst", By: actor, Pinned: pinned})
		return nil
	})
}

func (w *watchlist) Remove(ctx context.Context, actor, kind, value, reason string) error {
	return w.change(ctx, actor, "watchlist.remove", kind, value, reason, func() error {
		w.entries = slices.DeleteFunc(w.entries, func(e campaign.Entry) bool { return e.Kind == kind && e.Value == value })
		return nil
	})
}

func (w *watchlist) Pin(ctx context.Context, actor, kind, value, reason string, pinned bool) error {
	return w.change(ctx, actor, "watchlist.pin", kind, value, reason, func() error {
		for i := range w.entries {
			if w.entries[i].Kind == kind && w.entries[i].Value == value {
				w.entries[i].Pinned = pinned
				return nil
			}
		}
		return fmt.Errorf("%w: %s:%s", store.ErrNotFound, kind, value)
	})
}

type campaigns []campaign.Campaign

func (c campaigns) Campaigns(time.Time) []campaign.Campaign { return c }

// fixture is a console over a real SQLite store holding a small campaign: quotes of 1556, two
// victims' hijacked buys, a beneficiary's sell, their decisions and alerts.
type fixture struct {
	st    *sqlite.Store
	srv   *httptest.Server
	clock *clock
	locks *lockState
	seq   map[string]int64 // alert id → seq
}

const testPassword = "correct horse battery"

func newFixture(t testing.TB, mods ...func(o *Options, url string)) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "bg.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	day := time.Date(2025, 4, 11, 9, 0, 0, 0, jst)
	b := &store.Batch{}
	for i := range 300 {
		tm := day.Add(time.Duration(i) * time.Minute)
		id := fmt.Sprintf("q-%d", i)
		price := 500.0
		if i > 40 {
			price += float64(i-40) * 2
		}
		b.Events = append(b.Events, store.EventRecord{ID: id, Type: "quote", Time: tm,
			Raw: fmt.Appendf(nil, `{"id":%q,"type":"quote","time":%q,"symbol":"1556","price":%g,"volume":%d}`, id, tm.Format(time.RFC3339), price, 100+i*10)})
	}
	order := func(id, account, side string, qty int, price float64, tm time.Time, a event.Action, reasons ...event.Reason) {
		b.Events = append(b.Events, store.EventRecord{ID: id, Account: account, Type: "order", Time: tm,
			Raw: fmt.Appendf(nil, `{"id":%q,"type":"order","time":%q,"account":%q,"symbol":"1556","side":%q,"quantity":%d,"price":%g,"ip":"203.0.113.9","device":"d-x","country":"VN"}`,
				id, tm.Format(time.RFC3339), account, side, qty, price)})
		b.Decisions = append(b.Decisions, event.Decision{ID: id, Account: account, Type: "order", Action: a, Score: 800, Reasons: reasons, Time: tm})
	}
	herd := event.Reason{Code: "HERDING_ILLIQUID_BUY", Detail: "third account buying 1556 in 20 minutes"}
	order("o-1", "A1", "buy", 3000, 590, day.Add(45*time.Minute), event.ActionHold, herd)
	order("o-2", "A2", "buy", 2000, 600, day.Add(50*time.Minute), event.ActionHold, herd)
	order("o-3", "B9", "sell", 10000, 690, day.Add(2*time.Hour), event.ActionReview, event.Reason{Code: "SELLS_INTO_CAMPAIGN", Detail: "sells a stake bought over three days"})
	b.Alerts = []event.Alert{
		{ID: "al-cmp", Kind: event.AlertCampaign, Time: day.Add(50 * time.Minute), Symbols: []string{"1556"}, Accounts: []string{"A1", "A2"}, Score: 940, Reasons: []event.Reason{herd}},
		{ID: "al-ato", Kind: event.AlertAccountTakeover, Time: day.Add(45 * time.Minute), Accounts: []string{"A1"}, Score: 870, Reasons: []event.Reason{{Code: "NEW_DEVICE", Detail: "device d-x never seen"}}},
		{ID: "al-ben", Kind: event.AlertBeneficiary, Time: day.Add(2 * time.Hour), Symbols: []string{"1556"}, Accounts: []string{"B9"}, Score: 700},
	}
	if err := st.Append(ctx, b); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, clock: &clock{t: time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)}, seq: map[string]int64{}}
	as, err := st.Alerts(ctx, store.AlertQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		f.seq[a.ID] = a.Seq
	}
	f.locks = &lockState{locked: map[string]bool{"A1": true, "A2": false, "B9": false}, audit: st}
	for _, u := range []struct{ name, role string }{{"ito", "analyst"}, {"sato", "supervisor"}, {"bot", "read"}} {
		h, err := HashPassword(testPassword)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AddUser(ctx, store.StaffUser{Name: u.name, Role: u.role, Password: h, Created: f.clock.now()}); err != nil {
			t.Fatal(err)
		}
	}
	var h http.Handler
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(f.srv.Close)
	o := Options{Users: st, Alerts: st, Decisions: st, Events: st, Audit: st, Accounts: f.locks,
		Watchlist: &watchlist{audit: st, entries: []campaign.Entry{{Kind: "symbol", Value: "1556", Reason: "campaign al-cmp", Source: "campaign"}}},
		Campaigns: campaigns{{Symbol: "1556", Since: day.Add(50 * time.Minute), Alert: "al-cmp", Victims: []string{"A1", "A2"}, Beneficiaries: []string{"B9"}}},
		Held: desk.New(desk.Options{Accounts: profile.NewAccounts(), Decisions: st,
			Trail: audit.New(audit.Options{Store: st, Wall: f.clock.now, Data: func() time.Time { return day.Add(3 * time.Hour) }})}),
		Now: f.clock.now, DataNow: func() time.Time { return day.Add(3 * time.Hour) }, Log: testLog()}
	for _, m := range mods {
		m(&o, f.srv.URL)
	}
	if h, err = New(o); err != nil {
		t.Fatal(err)
	}
	return f
}

// client is a browser: a cookie jar, no redirects followed.
func (f *fixture) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func body(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// signIn signs name in on c and returns the session's CSRF token.
func (f *fixture) signIn(t testing.TB, c *http.Client, name, pw string) (int, string) {
	t.Helper()
	resp, err := c.Get(f.srv.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	m := csrfRE.FindStringSubmatch(body(t, resp))
	if m == nil {
		t.Fatal("sign-in page has no CSRF token")
	}
	resp, err = c.PostForm(f.srv.URL+"/signin", url.Values{"csrf": {m[1]}, "name": {name}, "password": {pw}, "next": {"/alerts"}})
	if err != nil {
		t.Fatal(err)
	}
	body(t, resp)
	if resp.StatusCode != http.StatusSeeOther {
		return resp.StatusCode, ""
	}
	resp, err = c.Get(f.srv.URL + "/alerts")
	if err != nil {
		t.Fatal(err)
	}
	page := body(t, resp)
	m = csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("after sign-in: /alerts %d without a CSRF token", resp.StatusCode)
	}
	return http.StatusSeeOther, m[1]
}

// concrete returns a path of the route pattern with its wildcards filled.
func (f *fixture) concrete(pattern string) string {
	r := strings.NewReplacer("{$}", "", "{id}", fmt.Sprint(f.seq["al-ato"]), "{account}", "A1", "{symbol}", "1556", "{event}", "o-1")
	return r.Replace(pattern)
}

func (f *fixture) do(t *testing.T, c *http.Client, method, path string, form url.Values) *http.Response {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = c.PostForm(f.srv.URL+path, form)
	} else {
		resp, err = c.Get(f.srv.URL + path)
	}
	if err != nil {
		t.Fatal(err)
	}
	body(t, resp)
	return resp
}

func (f *fixture) auditCount(t *testing.T) int {
	t.Helper()
	recs, err := f.st.Audit(context.Background(), store.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

// TestRoutesRefuse walks every console route and proves that a call without a session is refused
// (except sign-in and static assets), and that every state-changing route refuses a request without a
// valid CSRF token, from another site, and from a user without the route's role; nothing is written
// to the audit trail by any refused call.
func TestRoutesRefuse(t *testing.T) {
	f := newFixture(t)
	anon := f.client()
	analyst, sup, reader := f.client(), f.client(), f.client()
	_, analystCSRF := f.signIn(t, analyst, "ito", testPassword)
	_, supCSRF := f.signIn(t, sup, "sato", testPassword)
	_, readerCSRF := f.signIn(t, reader, "bot", testPassword)
	before := f.auditCount(t)
	for _, rt := range routes() {
		path := f.concrete(rt.pattern)
		if rt.pattern == "/static/" {
			path = "/static/console.css"
		}
		t.Run(rt.method+" "+rt.pattern, func(t *testing.T) {
			if rt.roles == nil {
				if rt.method == http.MethodGet {
					// Public: answered without a session (OIDC is off in this fixture: 404).
					want := http.StatusOK
					if strings.HasPrefix(rt.pattern, "/signin/oidc") {
						want = http.StatusNotFound
					}
					if resp := f.do(t, anon, rt.method, path, nil); resp.StatusCode != want {
						t.Errorf("public route without a session: got %d, want %d", resp.StatusCode, want)
					}
				}
				return
			}
			resp := f.do(t, anon, rt.method, path, url.Values{"csrf": {analystCSRF}, "reason": {"x"}})
			if rt.method == http.MethodGet {
				if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/signin?next=") {
					t.Errorf("without a session: got %d to %q, want 303 to /signin", resp.StatusCode, loc)
				}
			} else if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("POST without a session: got %d, want 401", resp.StatusCode)
			}
			// A user whose role is not a staff role is refused everywhere.
			if resp := f.do(t, reader, rt.method, path, url.Values{"csrf": {readerCSRF}, "reason": {"x"}}); resp.StatusCode != http.StatusForbidden {
				t.Errorf("role read: got %d, want 403", resp.StatusCode)
			}
			if rt.method != http.MethodPost {
				return
			}
			for name, form := range map[string]url.Values{
				"no token":    {"reason": {"x"}},
				"wrong token": {"csrf": {supCSRF}, "reason": {"x"}},
				"empty token": {"csrf": {""}, "reason": {"x"}},
			} {
				if resp := f.do(t, analyst, rt.method, path, form); resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s: got %d, want 403", name, resp.StatusCode)
				}
			}
			req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(url.Values{"csrf": {analystCSRF}, "reason": {"x"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			resp, err := analyst.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body(t, resp)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("cross-site POST with a valid token: got %d, want 403", resp.StatusCode)
			}
			if len(rt.roles) < len(staff) {
				if resp := f.do(t, analyst, rt.method, path, url.Values{"csrf": {analystCSRF}, "reason": {"x"}}); resp.StatusCode != http.StatusForbidden {
					t.Errorf("analyst on a %v route: got %d, want 403", rt.roles, resp.StatusCode)
				}
			}
		})
	}
	if got := f.auditCount(t); got != before {
		t.Errorf("refused calls wrote %d audit records", got-before)
	}
	// And the same calls with the session, the token and the role go through.
	for _, p := range []string{"/alerts/{id}/acknowledge", "/alerts/{id}/assign", "/alerts/{id}/dismiss", "/accounts/{account}/unlock",
		"/watchlist", "/watchlist/pin", "/watchlist/remove", "/held/{event}/release"} {
		form := url.Values{"csrf": {analystCSRF}, "reason": {"customer confirmed the trade by phone"}, "kind": {"device"}, "value": {"d-x"}, "pinned": {"true"}}
		if resp := f.do(t, analyst, http.MethodPost, f.concrete(p), form); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("POST %s with a session and its token: got %d, want 303", p, resp.StatusCode)
		}
	}
	if resp := f.do(t, sup, http.MethodPost, f.concrete("/alerts/{id}/reopen"), url.Values{"csrf": {supCSRF}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("supervisor reopen: got %d, want 303", resp.StatusCode)
	}
	recs, _ := f.st.Audit(context.Background(), store.AuditQuery{After: 0, Limit: 1000})
	var acts []string
	for _, r := range recs[before:] {
		acts = append(acts, r.Actor+":"+r.Action)
	}
	if want := "ito:alert.acknowledge ito:alert.assign ito:alert.dismiss ito:account.unlock ito:watchlist.add ito:watchlist.pin ito:watchlist.remove ito:held.release sato:alert.reopen"; strings.Join(acts, " ") != want {
		t.Errorf("audit trail: got %v, want %s", acts, want)
	}
	// The queue shows open alerts by default; al-ato was reopened, al-cmp never touched.
	resp, err := analyst.Get(f.srv.URL + "/alerts")
	if err != nil {
		t.Fatal(err)
	}
	if html := body(t, resp); strings.Count(html, `class="alert-link"`) != 3 {
		t.Errorf("the open queue: %d alerts, want 3", strings.Count(html, `class="alert-link"`))
	}
	sts, _ := f.st.AlertStatuses(context.Background(), []string{"al-ato"})
	if st := sts["al-ato"]; st.Status != store.AlertOpen || st.Assignee != "ito" || st.Actor != "sato" {
		t.Errorf("alert status after the actions: %+v", st)
	}
}

// TestSignIn checks the sign-in: wrong passwords, the lockout, idle and absolute expiry, sign-out,
// a disabled user, the cookie's attributes and the security headers.
func TestSignIn(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	if code, _ := f.signIn(t, c, "nobody", testPassword); code != http.StatusUnauthorized {
		t.Errorf("unknown user: got %d, want 401", code)
	}
	for i := range 4 {
		if code, _ := f.signIn(t, c, "ito", "wrong password "+fmt.Sprint(i)); code != http.StatusUnauthorized {
			t.Errorf("wrong password %d: got %d, want 401", i+1, code)
		}
	}
	if code, _ := f.signIn(t, c, "ito", "wrong again"); code != http.StatusTooManyRequests {
		t.Errorf("fifth wrong password: got %d, want 429 (locked)", code)
	}
	if code, _ := f.signIn(t, c, "ito", testPassword); code != http.StatusTooManyRequests {
		t.Errorf("right password while locked: got %d, want 429", code)
	}
	f.clock.add(16 * time.Minute)
	if code, _ := f.signIn(t, c, "ito", testPassword); code != http.StatusSeeOther {
		t.Fatalf("right password after the lock: got %d, want 303", code)
	}
	// The cookie.
	resp := f.do(t, f.client(), http.MethodGet, "/signin", nil)
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("sign-in page without %s", h)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	u, _ := url.Parse(f.srv.URL)
	var session *http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "bg_session" {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("no session cookie after sign-in")
	}
	// Idle expiry: 29 minutes keep the session, 31 more end it.
	f.clock.add(29 * time.Minute)
	if resp := f.do(t, c, http.MethodGet, "/", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("after 29 idle minutes: got %d, want 200", resp.StatusCode)
	}
	f.clock.add(31 * time.Minute)
	if resp := f.do(t, c, http.MethodGet, "/", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after 31 idle minutes: got %d, want 303 to sign-in", resp.StatusCode)
	}
	// Absolute expiry: active every 20 minutes, the session ends after 12 hours all the same.
	f.signIn(t, c, "ito", testPassword)
	for range 35 {
		f.clock.add(20 * time.Minute)
		if resp := f.do(t, c, http.MethodGet, "/alerts", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("an active session ended early: %d", resp.StatusCode)
		}
	}
	f.clock.add(21 * time.Minute)
	if resp := f.do(t, c, http.MethodGet, "/alerts", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after 12 hours: got %d, want 303 to sign-in", resp.StatusCode)
	}
	// Sign-out ends the session on the server: the old cookie no longer works.
	_, csrf := f.signIn(t, c, "ito", testPassword)
	old := c.Jar.Cookies(u)
	if resp := f.do(t, c, http.MethodPost, "/signout", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign-out: got %d", resp.StatusCode)
	}
	replay := f.client()
	replay.Jar.SetCookies(u, old)
	if resp := f.do(t, replay, http.MethodGet, "/alerts", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the cookie of a signed-out session: got %d, want 303", resp.StatusCode)
	}
	// A disabled user's session ends.
	_, _ = f.signIn(t, c, "sato", testPassword)
	if err := f.st.SetDisabled(context.Background(), "sato", true, f.clock.now()); err != nil {
		t.Fatal(err)
	}
	if resp := f.do(t, c, http.MethodGet, "/alerts", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("disabled user: got %d, want 303", resp.StatusCode)
	}
	if code, _ := f.signIn(t, f.client(), "sato", testPassword); code != http.StatusUnauthorized {
		t.Errorf("disabled user signing in: got %d, want 401", code)
	}
}

// TestSecureCookie checks the cookie's attributes when the console is reached over HTTPS.
func TestSecureCookie(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	resp := f.do(t, c, http.MethodGet, "/signin", nil)
	_ = resp
	rec := httptest.NewRecorder()
	con, err := newConsole(Options{Users: f.st, Alerts: f.st, Decisions: f.st, Events: f.st, Audit: f.st, SecureCookies: true, Now: f.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/signin", nil)
	con.ServeHTTP(rec, req)
	ck := rec.Result().Cookies()
	if len(ck) == 0 || !ck[0].Secure || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode {
		t.Errorf("sign-in cookie over HTTPS: %+v", ck)
	}
	rec = httptest.NewRecorder()
	con.setSessionCookie(rec, req, "x")
	ck = rec.Result().Cookies()
	if len(ck) != 1 || ck[0].Name != "__Host-bg_session" || !ck[0].Secure || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Path != "/" {
		t.Errorf("session cookie over HTTPS: %+v", ck)
	}
}

// TestPages renders every page in both languages and checks what each must show.
func TestPages(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	f.signIn(t, c, "sato", testPassword)
	pages := []struct {
		path string
		want []string
	}{
		{"/", []string{"1556", "<svg", "Campaigns under way"}},
		{"/alerts", []string{"al-", "Campaign", "Account takeover", "A1"}},
		{"/alerts?kind=campaign", []string{"/campaigns/1556"}},
		{"/alerts?status=dismissed", []string{"No alerts."}},
		{"/alerts?status=all&kind=beneficiary", []string{"B9"}},
		{f.concrete("/alerts/{id}"), []string{"New device", "device d-x never seen", "Assign to me"}},
		{"/accounts/A1", []string{"Order", "hold", "203.0.113.9", "third account buying 1556", "Unlock"}},
		{"/campaigns", []string{"1556"}},
		{"/campaigns/1556", []string{`class="buy"`, `class="sell"`, "<polyline", "B9", "A2", "300 quotes"}},
		{"/audit?action=console.", []string{"console.signin", "user:sato", "Audit trail"}},
		{"/watchlist", []string{"1556", "campaign al-cmp", `action="/watchlist/pin"`}},
	}
	for _, p := range pages {
		sep := map[bool]string{true: "&", false: "?"}[strings.Contains(p.path, "?")]
		resp := mustGet(t, c, f.srv.URL+p.path+sep+"lang=en")
		html := body(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", p.path, resp.StatusCode)
			continue
		}
		for _, w := range p.want {
			if !strings.Contains(html, w) {
				t.Errorf("%s: no %q", p.path, w)
			}
		}
		if strings.Contains(html, "<script>") || strings.Contains(html, "style=") || strings.Contains(html, " on") && regexp.MustCompile(` on[a-z]+=`).MatchString(html) {
			t.Errorf("%s: inline script or style", p.path)
		}
		ja := mustGet(t, c, f.srv.URL+p.path+sep+"lang=ja")
		jaHTML := body(t, ja)
		if !strings.Contains(jaHTML, `lang="ja"`) || !strings.Contains(jaHTML, "サインアウト") {
			t.Errorf("%s?lang=ja: not in Japanese", p.path)
		}
		if !strings.Contains(jaHTML, "JST") {
			t.Errorf("%s: times not in JST", p.path)
		}
	}
	// The language choice is remembered.
	if html := body(t, mustGet(t, c, f.srv.URL+"/alerts")); !strings.Contains(html, "アラート一覧") {
		t.Error("the language switch is not remembered")
	}
	// Accept-Language picks the language of a browser that chose none.
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/signin", nil)
	req.Header.Set("Accept-Language", "ja-JP,ja;q=0.9,en;q=0.8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if html := body(t, resp); !strings.Contains(html, "ユーザー名") {
		t.Error("Accept-Language ja: sign-in page not in Japanese")
	}
}

func mustGet(t *testing.T, c *http.Client, u string) *http.Response {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestMessages checks that every message has both languages and that the templates use no key
// without words.
func TestMessages(t *testing.T) {
	for k := range messages["en"] {
		if _, ok := messages["ja"][k]; !ok {
			t.Errorf("message %q has no Japanese", k)
		}
	}
	for k := range messages["ja"] {
		if _, ok := messages["en"][k]; !ok {
			t.Errorf("message %q has no English", k)
		}
	}
	keyRE := regexp.MustCompile(`\{\{[^}]*?\bt \S+ "([a-z_]+)"`)
	for _, name := range append(pageNames, "layout") {
		b, err := templateFiles.ReadFile("templates/" + name + ".html")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyRE.FindAllStringSubmatch(string(b), -1) {
			if _, ok := messages["en"][m[1]]; !ok {
				t.Errorf("%s.html uses message %q, which has no words", name, m[1])
			}
		}
	}
	if got := fromAcceptLanguage("en-US;q=0.5, ja;q=0.8"); got != "ja" {
		t.Errorf("Accept-Language q values: got %s, want ja", got)
	}
}

// TestWatchlistRefusesBadInput checks that input the watchlist refuses is shown to the analyst and
// changes nothing.
func TestWatchlistRefusesBadInput(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	_, csrf := f.signIn(t, c, "ito", testPassword)
	before := f.auditCount(t)
	for _, form := range []url.Values{
		{"csrf": {csrf}, "kind": {"galaxy"}, "value": {"x"}, "reason": {"r"}},
		{"csrf": {csrf}, "kind": {"symbol"}, "value": {""}, "reason": {"r"}},
		{"csrf": {csrf}, "kind": {"symbol"}, "value": {"7203"}, "reason": {""}},
	} {
		if resp := f.do(t, c, http.MethodPost, "/watchlist", form); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST /watchlist %v: got %d, want 400", form, resp.StatusCode)
		}
	}
	resp, err := c.PostForm(f.srv.URL+"/watchlist", url.Values{"csrf": {csrf}, "kind": {"prefix"}, "value": {"203.0.113.9"}, "reason": {"r"}})
	if err != nil {
		t.Fatal(err)
	}
	if html := body(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(html, "want an address block") {
		t.Errorf("a refused prefix: got %d without the reason shown", resp.StatusCode)
	}
	if got := f.auditCount(t); got != before {
		t.Errorf("refused input wrote %d audit records", got-before)
	}
}

// testLog is the console's log in tests: on stderr with -v, else nowhere.
func testLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// TestReasonWords checks that every reason code of the shipped rules and model has words in both
// languages.
func TestReasonWords(t *testing.T) {
	codeRE := regexp.MustCompile(`(?m)^\s*-?\s*code:\s*([A-Z][A-Z_]+)\s*$`)
	for _, file := range []string{"../rules/default.yaml", "../detect/model.yaml"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		ms := codeRE.FindAllStringSubmatch(string(b), -1)
		if len(ms) == 0 {
			t.Fatalf("%s: no reason codes found", file)
		}
		for _, m := range ms {
			if _, ok := reasons[m[1]]; !ok {
				t.Errorf("%s: reason code %s has no words", file, m[1])
			}
		}
	}
}

// TestHeldPage lists the held buys of the fixture, releases one and cancels the other through the
// page's forms, and shows a second, contrary action as a conflict.
func TestHeldPage(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	_, csrf := f.signIn(t, c, "ito", testPassword)
	page := getPage(t, f, c, "/held")
	for _, want := range []string{`data-event="o-1" data-state="held"`, `data-event="o-2" data-state="held"`, `action="/held/o-1/release"`, `href="/held"`} {
		if !strings.Contains(page, want) {
			t.Errorf("held page lacks %s", want)
		}
	}
	if strings.Contains(page, `data-event="o-3"`) {
		t.Error("held page lists o-3, which was only reviewed")
	}
	if resp := f.do(t, c, http.MethodPost, "/held/o-1/release", url.Values{"csrf": {csrf}, "reason": {"customer confirmed by phone"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("release: %d", resp.StatusCode)
	}
	if resp := f.do(t, c, http.MethodPost, "/held/o-2/cancel", url.Values{"csrf": {csrf}, "reason": {"herding victim"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	if resp := f.do(t, c, http.MethodPost, "/held/o-2/release", url.Values{"csrf": {csrf}, "reason": {"x"}}); resp.StatusCode != http.StatusConflict {
		t.Errorf("release after cancel: %d, want 409", resp.StatusCode)
	}
	if resp := f.do(t, c, http.MethodPost, "/held/o-3/release", url.Values{"csrf": {csrf}, "reason": {"x"}}); resp.StatusCode != http.StatusConflict {
		t.Errorf("releasing a reviewed order: %d, want 409", resp.StatusCode)
	}
	if resp := f.do(t, c, http.MethodPost, "/held/nope/cancel", url.Values{"csrf": {csrf}, "reason": {"x"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown event: %d, want 404", resp.StatusCode)
	}
	if page := getPage(t, f, c, "/held"); strings.Contains(page, `data-event="o-1"`) {
		t.Error("the waiting list still shows the released o-1")
	}
	page = getPage(t, f, c, "/held?all=1")
	for _, want := range []string{`data-event="o-1" data-state="released"`, `data-event="o-2" data-state="cancelled"`, "customer confirmed by phone"} {
		if !strings.Contains(page, want) {
			t.Errorf("held page (all) lacks %s", want)
		}
	}
}

// getPage returns the body of a page the client fetches.
func getPage(t *testing.T, f *fixture, c *http.Client, path string) string {
	t.Helper()
	resp, err := c.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	return body(t, resp)
}
