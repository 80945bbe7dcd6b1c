package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/store"
)

var randRead = rand.Read

// session is a signed-in request's session: its user and the CSRF token of its forms.
type session struct {
	hash [32]byte
	user store.StaffUser
	csrf string
}

// cookieName is the session cookie's name: __Host- when Secure (the browser then refuses it from
// any other origin, path or a plain-HTTP page).
func (c *Console) cookieName(r *http.Request) string {
	if c.secure(r) {
		return "__Host-bg_session"
	}
	return "bg_session"
}

func (c *Console) secure(r *http.Request) bool { return c.o.SecureCookies || r.TLS != nil }

func (c *Console) setSessionCookie(w http.ResponseWriter, r *http.Request, value string) {
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(r), Value: value, Path: "/", HttpOnly: true, Secure: c.secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: int(c.o.SessionLifetime / time.Second)})
}

func (c *Console) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(c.cookieName(r)); err != nil {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(r), Value: "", Path: "/", HttpOnly: true, Secure: c.secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// session returns the request's live session, or nil when it has none, it expired (idle or absolute),
// or its user is disabled. It notes the request as the session's last once a minute.
func (c *Console) session(r *http.Request) (*session, error) {
	ck, err := r.Cookie(c.cookieName(r))
	if err != nil || len(ck.Value) != 43 {
		return nil, nil
	}
	secret, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return nil, nil
	}
	hash := sha256.Sum256(secret)
	ctx := r.Context()
	ss, err := c.o.Users.Session(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	now := c.o.Now()
	if now.Sub(ss.Seen) > c.o.IdleTimeout || now.Sub(ss.Created) > c.o.SessionLifetime {
		return nil, c.o.Users.DeleteSession(ctx, hash)
	}
	u, err := c.o.Users.User(ctx, ss.User)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, c.o.Users.DeleteSession(ctx, hash)
	}
	if now.Sub(ss.Seen) > time.Minute {
		if err := c.o.Users.TouchSession(ctx, hash, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return &session{hash: hash, user: u, csrf: tokenFor(secret, "csrf")}, nil
}

// dummyHash is checked against when the name is unknown, so that a sign-in takes as long whether the
// name exists or not.
var dummyHash = "$argon2id$v=19$m=65536,t=3,p=2$c29tZXNhbHRzb21lc2FsdA$Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyMTI"

type signInPage struct {
	Name, Next, Error string
	Token             string
	OIDC              bool // offer sign-in through the identity provider
}

func (c *Console) getSignIn(w http.ResponseWriter, r *http.Request, _ *session) error {
	if s, err := c.session(r); err == nil && s != nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	p := signInPage{Next: localPath(r.URL.Query().Get("next"))}
	if r.URL.Query().Get("oidc") == "refused" {
		p.Error = "oidc_refused"
	}
	return c.renderSignIn(w, r, http.StatusOK, p)
}

// renderSignIn renders the sign-in form with a pre-session CSRF token: a random value in a cookie
// and its MAC in the form (double submit), so that no other site can sign a browser in.
func (c *Console) renderSignIn(w http.ResponseWriter, r *http.Request, status int, p signInPage) error {
	nonce := make([]byte, 24)
	if _, err := randRead(nonce); err != nil {
		return err
	}
	v := base64.RawURLEncoding.EncodeToString(nonce)
	http.SetCookie(w, &http.Cookie{Name: "bg_signin", Value: v, Path: "/signin", HttpOnly: true, Secure: c.secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	p.Token = tokenFor(c.macKey, "signin:"+v)
	p.OIDC = c.oidc != nil
	return c.render(w, r, nil, status, "signin", p)
}

func (c *Console) postSignIn(w http.ResponseWriter, r *http.Request, _ *session) error {
	ctx := r.Context()
	name, pw := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("password")
	p := signInPage{Name: name, Next: localPath(r.PostFormValue("next"))}
	ck, err := r.Cookie("bg_signin")
	if err != nil || r.PostFormValue("csrf") != tokenFor(c.macKey, "signin:"+ck.Value) {
		p.Error = "bad_csrf"
		return c.renderSignIn(w, r, http.StatusForbidden, p)
	}
	if name == "" || pw == "" {
		p.Error = "signin_missing"
		return c.renderSignIn(w, r, http.StatusBadRequest, p)
	}
	now := c.o.Now()
	u, err := c.o.Users.User(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_, _ = CheckPassword(dummyHash, pw)
		p.Error = "signin_wrong"
		return c.renderSignIn(w, r, http.StatusUnauthorized, p)
	case err != nil:
		return err
	case now.Before(u.LockedUntil):
		p.Error = "signin_locked"
		return c.renderSignIn(w, r, http.StatusTooManyRequests, p)
	}
	ok, err := CheckPassword(u.Password, pw)
	if u.Password == NoPassword {
		ok, err = false, nil
	}
	if err != nil {
		c.o.Log.Error("console: stored password hash", "user", name, "err", err)
	}
	if !ok || u.Disabled {
		if !u.Disabled {
			u, err = c.o.Users.SignInFailed(ctx, name, now, c.o.LockAfter, c.o.LockFor)
			if err != nil {
				return err
			}
		}
		p.Error = "signin_wrong"
		status := http.StatusUnauthorized
		if now.Before(u.LockedUntil) {
			p.Error, status = "signin_locked", http.StatusTooManyRequests
			c.o.Log.Warn("console: user locked after failed sign-ins", "user", name, "until", u.LockedUntil)
		}
		return c.renderSignIn(w, r, status, p)
	}
	if err := c.o.Users.SignInSucceeded(ctx, name, now); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: "bg_signin", Value: "", Path: "/signin", MaxAge: -1, HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteStrictMode})
	if err := c.startSession(ctx, w, r, name, "password"); err != nil {
		return err
	}
	http.Redirect(w, r, p.Next, http.StatusSeeOther)
	return nil
}

// startSession opens a session for the user, audits the sign-in and sets the cookie.
func (c *Console) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, name, via string) error {
	now := c.o.Now()
	_, _ = c.o.Users.DeleteExpiredSessions(ctx, now.Add(-c.o.IdleTimeout), now.Add(-c.o.SessionLifetime))
	secret := make([]byte, 32)
	if _, err := randRead(secret); err != nil {
		return err
	}
	if err := c.o.Users.AddSession(ctx, store.StaffSession{Hash: sha256.Sum256(secret), User: name, Created: now, Seen: now}); err != nil {
		return err
	}
	if err := c.audit(ctx, name, ActionSignIn, "user:"+name, "", []byte(`{"via":"`+via+`"}`)); err != nil {
		return err
	}
	c.setSessionCookie(w, r, base64.RawURLEncoding.EncodeToString(secret))
	return nil
}

func (c *Console) postSignOut(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := c.audit(r.Context(), s.user.Name, ActionSignOut, "user:"+s.user.Name, "", nil); err != nil {
		return err
	}
	if err := c.o.Users.DeleteSession(r.Context(), s.hash); err != nil {
		return err
	}
	c.clearSessionCookie(w, r)
	http.Redirect(w, r, "/signin?out=1", http.StatusSeeOther)
	return nil
}
