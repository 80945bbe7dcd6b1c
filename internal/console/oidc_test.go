package console

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/brokerguard/brokerguard/internal/store"
)

// provider is a small OpenID Connect provider for the tests: discovery, keys, an authorization
// endpoint that signs in whoever the test names at once, and a token endpoint that checks the client,
// the code and its PKCE verifier before it issues an RS256 ID token.
type provider struct {
	srv    *httptest.Server
	key    *rsa.PrivateKey
	now    func() time.Time
	mu     sync.Mutex
	user   string // who signs in at the next authorization
	nonce  string // "" to echo the client's nonce; set to issue a wrong one
	codes  map[string]grant
	secret string
}

type grant struct{ nonce, challenge, redirect, user string }

func newProvider(t *testing.T, now func() time.Time) *provider {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &provider{key: key, now: now, codes: map[string]grant{}, secret: "client-secret-0123456789"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		u := p.srv.URL
		json.NewEncoder(w).Encode(map[string]any{"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
			"jwks_uri": u + "/jwks", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"}, "code_challenge_methods_supported": []string{"S256"}})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != "console" || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
			q.Get("code_challenge") == "" || q.Get("nonce") == "" || !strings.Contains(q.Get("scope"), "openid") {
			http.Error(w, "bad authorization request: "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		code := "code-" + q.Get("state")[:8]
		p.codes[code] = grant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), user: p.user}
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
		}
		p.mu.Lock()
		g, found := p.codes[r.PostFormValue("code")]
		delete(p.codes, r.PostFormValue("code"))
		wrongNonce := p.nonce
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		switch {
		case id != "console" || secret != p.secret:
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		case !found || r.PostFormValue("redirect_uri") != g.redirect || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		nonce := g.nonce
		if wrongNonce != "" {
			nonce = wrongNonce
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		now := p.now()
		claims, _ := json.Marshal(map[string]any{"iss": p.srv.URL, "sub": "sub-" + g.user, "aud": "console", "iat": now.Unix(),
			"exp": now.Add(5 * time.Minute).Unix(), "nonce": nonce, "preferred_username": g.user})
		jws, err := signer.Sign(claims)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		idToken, _ := jws.CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": idToken})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// TestOIDCSignIn signs staff in through a local OpenID Connect provider started by the test.
func TestOIDCSignIn(t *testing.T) {
	var p *provider
	f := newFixture(t, func(o *Options, consoleURL string) {
		p = newProvider(t, o.Now)
		o.OIDC = &OIDC{Issuer: p.srv.URL, ClientID: "console", ClientSecret: p.secret, RedirectURL: consoleURL + "/signin/oidc/callback"}
	})
	ctx := context.Background()
	if err := f.st.AddUser(ctx, store.StaffUser{Name: "kato", Role: "analyst", Password: NoPassword, Created: f.clock.now()}); err != nil {
		t.Fatal(err)
	}
	follow := func() *http.Client {
		c := f.client()
		c.CheckRedirect = nil // follow, as a browser does
		return c
	}
	signIn := func(c *http.Client) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(f.srv.URL + "/signin/oidc?next=%2Falerts")
		if err != nil {
			t.Fatal(err)
		}
		return resp, body(t, resp)
	}

	// The sign-in page offers the provider.
	if html := body(t, mustGet(t, f.client(), f.srv.URL+"/signin")); !strings.Contains(html, `href="/signin/oidc?next=%2f"`) && !strings.Contains(html, `id="signin-oidc"`) {
		t.Error("the sign-in page does not offer the identity provider")
	}
	// A console user signs in; the page moves on to where they were going, and the session works.
	p.user = "kato"
	c := follow()
	resp, html := signIn(c)
	if resp.StatusCode != http.StatusOK || !strings.Contains(html, `content="0;url=/alerts"`) {
		t.Fatalf("sign-in through the provider: %d\n%s", resp.StatusCode, html)
	}
	if resp := mustGet(t, c, f.srv.URL+"/alerts"); resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/alerts" {
		t.Errorf("after the provider's sign-in: /alerts answered %d at %s", resp.StatusCode, resp.Request.URL.Path)
	}
	recs, _ := f.st.Audit(ctx, store.AuditQuery{Action: ActionSignIn})
	if len(recs) != 1 || recs[0].Actor != "kato" || string(recs[0].Data) != `{"via":"oidc"}` {
		t.Errorf("audit of the sign-in: %+v", recs)
	}
	// An OIDC-only user has no password to sign in with.
	if code, _ := f.signIn(t, f.client(), "kato", NoPassword); code != http.StatusUnauthorized {
		t.Errorf("password sign-in of an OIDC-only user: got %d, want 401", code)
	}

	// Refused: someone the provider knows but the console does not, a disabled user, a wrong nonce,
	// a callback whose state is not the browser's, and one without the cookie.
	refused := func(name string, setup func(), get func(c *http.Client) *http.Response) {
		t.Helper()
		setup()
		c := follow()
		resp := get(c)
		body(t, resp)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: got %d, want 401", name, resp.StatusCode)
		}
		if r := mustGet(t, c, f.srv.URL+"/alerts"); r.Request.URL.Path != "/signin" {
			t.Errorf("%s: a session was opened", name)
		}
	}
	start := func(c *http.Client) *http.Response { return mustGet(t, c, f.srv.URL+"/signin/oidc?next=%2Falerts") }
	refused("unknown user", func() { p.user = "mallory" }, start)
	refused("disabled user", func() {
		p.user = "sato"
		if err := f.st.SetDisabled(ctx, "sato", true, f.clock.now()); err != nil {
			t.Fatal(err)
		}
	}, start)
	refused("wrong nonce", func() { p.user, p.nonce = "kato", "someone-elses-nonce" }, start)
	p.nonce = ""
	refused("state of another sign-in", func() {}, func(c *http.Client) *http.Response {
		// The browser starts a sign-in but the callback it gets carries another state (a login CSRF).
		nc := f.client()
		resp, err := nc.Get(f.srv.URL + "/signin/oidc")
		if err != nil {
			t.Fatal(err)
		}
		body(t, resp)
		u, _ := url.Parse(f.srv.URL)
		c.Jar.SetCookies(u, nc.Jar.Cookies(u))
		for _, ck := range resp.Cookies() {
			c.Jar.SetCookies(&url.URL{Scheme: "http", Host: u.Host, Path: "/signin/oidc"}, []*http.Cookie{ck})
		}
		return mustGet(t, c, f.srv.URL+"/signin/oidc/callback?code=code-xxxxxxxx&state=forged-state")
	})
	refused("no cookie", func() {}, func(c *http.Client) *http.Response {
		return mustGet(t, c, f.srv.URL+"/signin/oidc/callback?code=x&state=y")
	})
}
