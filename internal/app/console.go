package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/campaign"
	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/console"
	"github.com/brokerguard/brokerguard/internal/desk"
	"github.com/brokerguard/brokerguard/internal/fault"
	"github.com/brokerguard/brokerguard/internal/profile"
	"github.com/brokerguard/brokerguard/internal/store"
)

// consoleParts are what the console is built from in startServer.
type consoleParts struct {
	store    store.Store
	accounts *profile.Accounts
	desk     *desk.Desk
	layer    *campaign.Layer // nil: the campaign layer is off
	dataNow  func() time.Time
	secure   bool
	oidc     config.OIDC
	log      *slog.Logger
}

// newConsole builds the analyst console over the store, the engine's accounts and the analyst desk.
func newConsole(p consoleParts) (http.Handler, error) {
	staff, ok := p.store.(store.Staff)
	if !ok {
		return nil, fmt.Errorf("console: the store %T keeps no console users", p.store)
	}
	o := console.Options{
		Users: staff, Alerts: staffAlerts{p.store, staff}, Decisions: p.store, Events: staff, Audit: p.store,
		Accounts: deskAccounts{p.accounts, p.desk}, Now: time.Now, DataNow: p.dataNow, SecureCookies: p.secure,
		Log: p.log.With("part", "console"),
	}
	if p.desk != nil {
		o.Held = p.desk
	}
	if p.layer != nil {
		o.Campaigns, o.Watchlist = p.layer, deskWatchlist{p.layer, p.desk}
	}
	if c := p.oidc; c.Issuer != "" {
		oc := &console.OIDC{Issuer: c.Issuer, ClientID: c.ClientID, RedirectURL: c.RedirectURL, UsernameClaim: c.UsernameClaim}
		if c.ClientSecretFile != "" {
			b, err := config.ReadKeyFile(c.ClientSecretFile)
			if err != nil {
				return nil, fmt.Errorf("oidc.client_secret_file: %w", err)
			}
			oc.ClientSecret = strings.TrimSpace(string(b))
		}
		o.OIDC = oc
	}
	return console.New(o)
}

// staffAlerts joins the store's alerts with the statuses the console keeps.
type staffAlerts struct {
	store.Store
	store.Staff
}

func (a staffAlerts) Alerts(ctx context.Context, q store.AlertQuery) ([]store.StoredAlert, error) {
	return a.Store.Alerts(ctx, q)
}

// deskAccounts answers the console's questions about accounts from the engine's profiles and unlocks
// through the desk.s audited unlock.
type deskAccounts struct {
	accounts *profile.Accounts
	desk     *desk.Desk
}

func (d deskAccounts) Locked(account string) (known, locked bool) {
	d.accounts.Peek(account, func(p *profile.Profile) {
		known = p != nil
		locked = known && p.Locked
	})
	return known, locked
}

func (d deskAccounts) Unlock(ctx context.Context, actor, account, reason string) error {
	err := d.desk.Unlock(ctx, actor, account, reason)
	switch {
	case errors.Is(err, fault.ErrConflict):
		return fmt.Errorf("%w: %v", console.ErrConflict, err)
	case errors.Is(err, fault.ErrNotFound):
		return fmt.Errorf("%w: %v", store.ErrNotFound, err)
	}
	return err
}

// deskWatchlist is the campaign layer's watchlist, changed through the desk.s audited actions.
type deskWatchlist struct {
	layer *campaign.Layer
	desk  *desk.Desk
}

func (d deskWatchlist) Entries(at time.Time, all bool) []campaign.Entry {
	return d.layer.Watchlist().List(at, all)
}

func (d deskWatchlist) Add(ctx context.Context, actor, kind, value, reason string, pinned bool) error {
	_, err := d.desk.AddWatch(ctx, actor, desk.Watch{Kind: kind, Value: value, Pinned: pinned}, reason)
	return deskError(err)
}

func (d deskWatchlist) Remove(ctx context.Context, actor, kind, value, reason string) error {
	_, err := d.desk.RemoveWatch(ctx, actor, desk.Change{Kind: kind, Value: value}, reason)
	return deskError(err)
}

func (d deskWatchlist) Pin(ctx context.Context, actor, kind, value, reason string, pinned bool) error {
	_, err := d.desk.PinWatch(ctx, actor, desk.Change{Kind: kind, Value: value, Pinned: pinned}, reason)
	return deskError(err)
}

// deskError translates the desk.s errors into the console's.
func deskError(err error) error {
	switch {
	case errors.Is(err, fault.ErrInvalid), errors.Is(err, fault.ErrConflict):
		return fmt.Errorf("%w: %v", console.ErrInvalid, err)
	case errors.Is(err, fault.ErrNotFound):
		return fmt.Errorf("%w: %v", store.ErrNotFound, err)
	}
	return err
}

// demoUser is the console user the demo creates, and the file that keeps its password.
type demoUser struct {
	name, password, file string
}

// addDemoUser adds the demo's console user, a supervisor, with a new random password that it also
// writes to a file in the data directory (mode 0600).
func addDemoUser(ctx context.Context, st store.Store, dataDir string, now time.Time) (demoUser, error) {
	secret, err := newSecret()
	if err != nil {
		return demoUser{}, err
	}
	u := demoUser{name: "demo", password: strings.TrimPrefix(secret, keyPrefix)[:20], file: filepath.Join(dataDir, "console-password")}
	if err := addUser(ctx, st, u.name, console.RoleSupervisor, u.password, now); err != nil {
		return u, fmt.Errorf("demo console user: %w", err)
	}
	if err := writeSecretFile(u.file, u.password); err != nil {
		return u, fmt.Errorf("demo console user: %w", err)
	}
	return u, nil
}

// printDemoUser says how to sign in to the console that serves at addr.
func printDemoUser(w io.Writer, addr string, u demoUser) {
	fmt.Fprintf(w, "\nThe analyst console: open http://%s/ in a browser and sign in as %q with the password %s\n", addr, u.name, u.password)
	fmt.Fprintf(w, "(also in %s, readable only by you; brokerguard user add --data-dir %s adds more users).\n", u.file, filepath.Dir(u.file))
}
