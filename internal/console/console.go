package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/brokerguard/brokerguard/internal/audit"

	"github.com/brokerguard/brokerguard/internal/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Staff roles, the API's roles of people.
const (
	RoleAnalyst    = "analyst"
	RoleSupervisor = "supervisor"
	RoleAdmin      = "admin"
)

var (
	staff       = []string{RoleAnalyst, RoleSupervisor, RoleAdmin}
	supervisors = []string{RoleSupervisor, RoleAdmin}
)

// Audit actions the console writes.
const (
	ActionSignIn      = audit.ActionConsoleSignIn
	ActionSignOut     = audit.ActionConsoleSignOut
	ActionAlertAck    = audit.ActionAlertAcknowledge
	ActionAlertAssign = audit.ActionAlertAssign
	ActionAlertDrop   = audit.ActionAlertDismiss
	ActionAlertReopen = audit.ActionAlertReopen
)

// Options configure the console. Users, Alerts, Decisions, Events and Audit are required; Campaigns
// and Accounts may be nil (the campaign layer off; no unlock).
type Options struct {
	Users     Users
	Alerts    Alerts
	Decisions Decisions
	Events    Events
	Campaigns Campaigns
	Accounts  Accounts
	Audit     Audit
	Watchlist Watchlist // nil: the campaign layer is off
	Held      Held      // nil: no held items page
	// OIDC turns on sign-in through the firm's identity provider beside passwords (nil: off).
	OIDC *OIDC

	// Now is the wall clock (sessions, lockout, the audit trail); DataNow the data's time (the time of
	// the latest event), which the dashboard and the campaigns are shown at. Now is required; DataNow
	// nil is Now.
	Now     func() time.Time
	DataNow func() time.Time
	// SecureCookies marks the session cookie Secure (and names it __Host-…): set it when the console
	// is reached over HTTPS, directly or through a proxy. Requests that arrive over TLS set it anyway.
	SecureCookies bool
	// IdleTimeout ends a session after that long without a request (default 30 minutes);
	// SessionLifetime ends it that long after sign-in whatever happens (default 12 hours).
	IdleTimeout, SessionLifetime time.Duration
	// LockAfter failed sign-ins in a row lock a user for LockFor (defaults 5 and 15 minutes).
	LockAfter int
	LockFor   time.Duration
	// Location is the zone times are shown in (default Asia/Tokyo, JST).
	Location *time.Location
	Log      *slog.Logger
}

// Console is the analyst console's HTTP handler.
type Console struct {
	o     Options
	mux   *http.ServeMux
	pages map[string]*template.Template
	// macKey keys the CSRF tokens of sign-in forms (before there is a session).
	macKey []byte

	oidc *oidcFlow // nil: no identity provider

	qmu    sync.Mutex
	qcache map[quoteKey][]point
	ocache map[orderKey][]mark
	scache map[statsKey]actionStats
}

// route is one console endpoint. roles nil: no session needed (sign-in, static assets).
type route struct {
	method, pattern string
	roles           []string
	handle          func(c *Console, w http.ResponseWriter, r *http.Request, s *session) error
}

func routes() []route {
	return []route{
		{"GET", "/signin", nil, (*Console).getSignIn},
		{"POST", "/signin", nil, (*Console).postSignIn},
		{"GET", "/signin/oidc", nil, (*Console).getOIDC},
		{"GET", "/signin/oidc/callback", nil, (*Console).getOIDCCallback},
		{"GET", "/static/", nil, (*Console).getStatic},
		{"POST", "/signout", staff, (*Console).postSignOut},
		{"GET", "/{$}", staff, (*Console).getDashboard},
		{"GET", "/alerts", staff, (*Console).getAlerts},
		{"GET", "/alerts/{id}", staff, (*Console).getAlert},
		{"POST", "/alerts/{id}/acknowledge", staff, (*Console).postAlertAck},
		{"POST", "/alerts/{id}/assign", staff, (*Console).postAlertAssign},
		{"POST", "/alerts/{id}/dismiss", staff, (*Console).postAlertDismiss},
		{"POST", "/alerts/{id}/reopen", supervisors, (*Console).postAlertReopen},
		{"GET", "/accounts/{$}", staff, (*Console).getAccountSearch},
		{"GET", "/accounts/{account}", staff, (*Console).getAccount},
		{"POST", "/accounts/{account}/unlock", staff, (*Console).postUnlock},
		{"GET", "/audit", staff, (*Console).getAudit},
		{"GET", "/watchlist", staff, (*Console).getWatchlist},
		{"POST", "/watchlist", staff, (*Console).postWatch},
		{"POST", "/watchlist/remove", staff, (*Console).postUnwatch},
		{"POST", "/watchlist/pin", staff, (*Console).postPin},
		{"GET", "/held", staff, (*Console).getHeld},
		{"POST", "/held/{event}/release", staff, (*Console).postHeldRelease},
		{"POST", "/held/{event}/cancel", staff, (*Console).postHeldCancel},
		{"GET", "/campaigns", staff, (*Console).getCampaigns},
		{"GET", "/campaigns/{symbol}", staff, (*Console).getCampaign},
	}
}

// New returns the console's handler. It serves its pages at the root of the paths it is given.
func New(o Options) (http.Handler, error) {
	c, err := newConsole(o)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func newConsole(o Options) (*Console, error) {
	if o.Users == nil || o.Alerts == nil || o.Decisions == nil || o.Events == nil || o.Audit == nil {
		return nil, errors.New("console: Users, Alerts, Decisions, Events and Audit are required")
	}
	if o.Now == nil {
		return nil, errors.New("console: Now (the wall clock) is required")
	}
	if o.DataNow == nil {
		o.DataNow = o.Now
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.SessionLifetime <= 0 {
		o.SessionLifetime = 12 * time.Hour
	}
	if o.LockAfter <= 0 {
		o.LockAfter = 5
	}
	if o.LockFor <= 0 {
		o.LockFor = 15 * time.Minute
	}
	if o.Location == nil {
		o.Location = time.FixedZone("JST", 9*3600)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	c := &Console{o: o, mux: http.NewServeMux(), macKey: make([]byte, 32), qcache: map[quoteKey][]point{}, ocache: map[orderKey][]mark{}, scache: map[statsKey]actionStats{}}
	if _, err := randRead(c.macKey); err != nil {
		return nil, err
	}
	if o.OIDC != nil {
		if o.OIDC.Issuer == "" || o.OIDC.ClientID == "" || o.OIDC.RedirectURL == "" {
			return nil, errors.New("console: OIDC needs an issuer, a client id and a redirect URL")
		}
		c.oidc = &oidcFlow{cfg: *o.OIDC}
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c.pages = pages
	for _, rt := range routes() {
		c.mux.Handle(rt.method+" "+rt.pattern, c.wrap(rt))
	}
	c.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.renderError(w, r, nil, http.StatusNotFound, "not_found")
	})
	return c, nil
}

// ServeHTTP sets the security headers every response carries and dispatches.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

// wrap checks the session, the role and, on POST, the origin and the CSRF token before rt's handler.
func (c *Console) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !sameOrigin(r) {
				c.renderError(w, r, nil, http.StatusForbidden, "bad_origin")
				return
			}
		}
		var s *session
		if rt.roles != nil {
			var err error
			s, err = c.session(r)
			if err != nil {
				c.o.Log.Error("console session", "err", err)
				c.renderError(w, r, nil, http.StatusServiceUnavailable, "unavailable")
				return
			}
			if s == nil {
				c.clearSessionCookie(w, r)
				if rt.method == http.MethodGet {
					http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				c.renderError(w, r, nil, http.StatusUnauthorized, "signed_out")
				return
			}
			if !slices.Contains(rt.roles, s.user.Role) {
				c.renderError(w, r, s, http.StatusForbidden, "forbidden_role")
				return
			}
			if rt.method == http.MethodPost && !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) {
				c.renderError(w, r, s, http.StatusForbidden, "bad_csrf")
				return
			}
		}
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		if err := rt.handle(c, w, r, s); err != nil {
			var he *httpError
			if errors.As(err, &he) {
				c.renderErrorDetail(w, r, s, he.status, he.code, he.detail)
				return
			}
			if errors.Is(err, store.ErrNotFound) {
				c.renderError(w, r, s, http.StatusNotFound, "not_found")
				return
			}
			c.o.Log.Error("console", "path", r.URL.Path, "err", err)
			c.renderError(w, r, s, http.StatusInternalServerError, "internal")
		}
	})
}

// sameOrigin refuses a cross-site POST: the browser's Sec-Fetch-Site or, without it, an Origin that
// is not this host's.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// httpError is an error with the status and message code it is shown with, and a detail for the
// analyst (input that was refused, never an internal error).
type httpError struct {
	status int
	code   string
	detail string
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %s", e.status, e.code) }

func fail(status int, code string) error { return &httpError{status: status, code: code} }

// tokenFor returns the CSRF token of a secret: an HMAC that only the holder of the secret (the cookie)
// and the server can make.
func tokenFor(key []byte, purpose string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (c *Console) getStatic(w http.ResponseWriter, r *http.Request, _ *session) error {
	name := strings.TrimPrefix(r.URL.Path, "/")
	b, err := fs.ReadFile(staticFiles, name)
	if err != nil || strings.Contains(name, "..") {
		return fail(http.StatusNotFound, "not_found")
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, err = w.Write(b)
	return err
}

// audit appends a staff action to the trail before it applies.
func (c *Console) audit(ctx context.Context, actor, action, target, reason string, data []byte) error {
	r := &store.AuditRecord{Time: c.o.Now().UTC(), DataTime: c.o.DataNow().UTC(), Actor: actor, Action: action, Target: target, Reason: reason, Data: data}
	return c.o.Audit.AppendAudit(ctx, r)
}

// localPath returns p when it is a path on this site, "/" otherwise (no open redirect).
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}
