package console

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/brokerguard/brokerguard/internal/store"
)

// OIDC signs staff in through the firm's identity provider: authorization code flow with PKCE, a
// state and a nonce. The provider says who the person is; the console's users say whether they may
// sign in and with which role (the username claim must name an enabled user).
type OIDC struct {
	Issuer, ClientID, ClientSecret, RedirectURL string
	UsernameClaim                               string // default preferred_username
	// HTTPClient talks to the provider (nil: http.DefaultClient).
	HTTPClient *http.Client
}

// oidcFlow is the console's OpenID Connect client. The provider's discovery document is fetched at
// the first sign-in (a provider down at start does not stop the server) and kept once it answers.
type oidcFlow struct {
	cfg OIDC
	mu  sync.Mutex
	p   *oidc.Provider
}

func (f *oidcFlow) ctx(ctx context.Context) context.Context {
	if f.cfg.HTTPClient != nil {
		return oidc.ClientContext(ctx, f.cfg.HTTPClient)
	}
	return ctx
}

func (f *oidcFlow) provider(ctx context.Context) (*oidc.Provider, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.p != nil {
		return f.p, nil
	}
	p, err := oidc.NewProvider(f.ctx(ctx), f.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc: discovery of %s: %w", f.cfg.Issuer, err)
	}
	f.p = p
	return p, nil
}

func (f *oidcFlow) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: f.cfg.ClientID, ClientSecret: f.cfg.ClientSecret, RedirectURL: f.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
}

const oidcCookie = "bg_oidc"

// getOIDC starts a sign-in at the provider: state, nonce and PKCE verifier go into a short-lived
// cookie, MACed so that it cannot be forged. The cookie is SameSite=Lax: it must come back with the
// provider's redirect, a cross-site navigation.
func (c *Console) getOIDC(w http.ResponseWriter, r *http.Request, _ *session) error {
	if c.oidc == nil {
		return fail(http.StatusNotFound, "not_found")
	}
	p, err := c.oidc.provider(r.Context())
	if err != nil {
		c.o.Log.Error("console: oidc", "err", err)
		return fail(http.StatusBadGateway, "oidc_unavailable")
	}
	var parts [3]string
	for i := range parts {
		b := make([]byte, 24)
		if _, err := randRead(b); err != nil {
			return err
		}
		parts[i] = base64.RawURLEncoding.EncodeToString(b)
	}
	state, nonce, verifier := parts[0], parts[1], parts[2]
	next := localPath(r.URL.Query().Get("next"))
	payload := strings.Join([]string{state, nonce, verifier, base64.RawURLEncoding.EncodeToString([]byte(next)),
		fmt.Sprint(c.o.Now().Add(10 * time.Minute).Unix())}, ".")
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: payload + "." + tokenFor(c.macKey, "oidc:"+payload), Path: "/signin/oidc",
		MaxAge: 600, HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, c.oidc.oauth(p).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
	return nil
}

// oidcState reads and checks the cookie getOIDC set.
func (c *Console) oidcState(r *http.Request) (state, nonce, verifier, next string, err error) {
	ck, err := r.Cookie(oidcCookie)
	if err != nil {
		return "", "", "", "", errors.New("no sign-in under way (the cookie is missing)")
	}
	i := strings.LastIndex(ck.Value, ".")
	if i < 0 {
		return "", "", "", "", errors.New("malformed state")
	}
	payload, mac := ck.Value[:i], ck.Value[i+1:]
	if !hmac.Equal([]byte(mac), []byte(tokenFor(c.macKey, "oidc:"+payload))) {
		return "", "", "", "", errors.New("forged state")
	}
	f := strings.Split(payload, ".")
	if len(f) != 5 {
		return "", "", "", "", errors.New("malformed state")
	}
	var exp int64
	if _, err := fmt.Sscan(f[4], &exp); err != nil || c.o.Now().Unix() > exp {
		return "", "", "", "", errors.New("the sign-in took too long")
	}
	nb, _ := base64.RawURLEncoding.DecodeString(f[3])
	return f[0], f[1], f[2], localPath(string(nb)), nil
}

// getOIDCCallback finishes a sign-in: the state must match, the code is exchanged with the PKCE
// verifier, the ID token verified (issuer, audience, expiry, signature, nonce), and the user named by
// its claim must be an enabled console user.
func (c *Console) getOIDCCallback(w http.ResponseWriter, r *http.Request, _ *session) error {
	if c.oidc == nil {
		return fail(http.StatusNotFound, "not_found")
	}
	ctx := r.Context()
	refuse := func(why string, args ...any) error {
		c.o.Log.Warn("console: oidc sign-in refused", "why", fmt.Sprintf(why, args...))
		return fail(http.StatusUnauthorized, "oidc_refused")
	}
	state, nonce, verifier, next, err := c.oidcState(r)
	if err != nil {
		return refuse("%v", err)
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/signin/oidc", MaxAge: -1, HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteLaxMode})
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return refuse("the provider answered %s", e)
	}
	if !hmac.Equal([]byte(q.Get("state")), []byte(state)) {
		return refuse("state does not match")
	}
	p, err := c.oidc.provider(ctx)
	if err != nil {
		return fail(http.StatusBadGateway, "oidc_unavailable")
	}
	tok, err := c.oidc.oauth(p).Exchange(c.oidc.ctx(ctx), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return refuse("code exchange: %v", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return refuse("no id_token in the token response")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: c.oidc.cfg.ClientID, Now: c.o.Now}).Verify(c.oidc.ctx(ctx), raw)
	if err != nil {
		return refuse("id token: %v", err)
	}
	if !hmac.Equal([]byte(idt.Nonce), []byte(nonce)) {
		return refuse("nonce does not match")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return refuse("claims: %v", err)
	}
	claim := c.oidc.cfg.UsernameClaim
	if claim == "" {
		claim = "preferred_username"
	}
	name, _ := claims[claim].(string)
	if name == "" {
		return refuse("the id token has no %s", claim)
	}
	u, err := c.o.Users.User(ctx, name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return refuse("%q is not an enabled console user", name)
	}
	if err != nil {
		return err
	}
	if err := c.startSession(ctx, w, r, u.Name, "oidc"); err != nil {
		return err
	}
	// The provider's redirect is a cross-site navigation: a SameSite=Strict cookie is not sent on the
	// redirect that follows it. A page on this site that moves on (no script) makes the next request
	// a same-site one.
	return c.render(w, r, nil, http.StatusOK, "moving", next)
}

// NoPassword is stored as the password of users who sign in only through the identity provider: no
// password checks against it.
const NoPassword = "!oidc-only"
