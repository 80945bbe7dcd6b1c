package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/phishing"
	"github.com/brokerguard/brokerguard/internal/store"
)

// phishingMatcher builds the lookalike matcher of the configuration.
func phishingMatcher(p config.Phishing) (*phishing.Matcher, error) {
	return phishing.NewMatcher(phishing.MatcherConfig{Domains: p.Domains, Brands: p.Brands, Allow: p.Allow})
}

// siteAlert is the phishing_site alert of a lookalike name found in a CT log.
func siteAlert(s phishing.Site) event.Alert {
	kind := "certificate"
	if s.Precert {
		kind = "precertificate"
	}
	detail := fmt.Sprintf("%s imitates %q (%s); %s by %s, entry %d of %s", s.Unicode, s.Brand, strings.Join(s.Techniques, ", "), kind, s.Issuer, s.Index, s.Log)
	return event.Alert{ID: s.ID(), Time: s.Logged, Kind: event.AlertPhishingSite, Symbols: []string{}, Accounts: []string{}, Score: s.Score * 10,
		Reasons: []event.Reason{{Code: "LOOKALIKE_DOMAIN", Detail: detail}}}
}

// ctFollower returns the function that follows the configured CT logs and stores a phishing_site alert
// per lookalike name, until its context ends; nil without ct_logs. Positions are kept in the data
// directory.
func ctFollower(cfg config.Config, st store.Store, log *slog.Logger) (func(ctx context.Context) error, error) {
	p := cfg.Phishing
	if len(p.CTLogs) == 0 {
		return nil, nil
	}
	m, err := phishingMatcher(p)
	if err != nil {
		return nil, err
	}
	var urls []string
	var keys [][]byte
	for i, l := range p.CTLogs {
		urls = append(urls, l.URL)
		var key []byte
		if l.PublicKey != "" {
			if key, err = base64.StdEncoding.DecodeString(l.PublicKey); err != nil {
				return nil, fmt.Errorf("phishing.ct_logs[%d].public_key: not base64: %v", i, err)
			}
		}
		keys = append(keys, key)
	}
	f, err := phishing.NewFollower(phishing.FollowerOptions{Logs: urls, PublicKey: keys, Matcher: m, FromStart: p.CTFromStart, Log: log,
		Positions: phishing.FilePositions{Path: filepath.Join(cfg.DataDir, "ct-positions.json")},
		Found: func(ctx context.Context, s phishing.Site) error {
			log.Info("lookalike site in a CT log", "name", s.Name, "brand", s.Brand, "score", s.Score, "log", s.Log, "index", s.Index)
			return st.Append(ctx, &store.Batch{Alerts: []event.Alert{siteAlert(s)}})
		}})
	if err != nil {
		return nil, err
	}
	every := p.CTPoll
	if every <= 0 {
		every = time.Minute
	}
	log.Info("following CT logs for lookalike names", "logs", len(urls), "every", every)
	return func(ctx context.Context) error { return f.Run(ctx, every) }, nil
}

// runPhishing is brokerguard phishing check: names against the configured or given domains and brands.
func runPhishing(ctx context.Context, args []string, std IO) error {
	return runSubcommand(ctx, "phishing", args, std, map[string]func(context.Context, []string, IO) error{"check": runPhishingCheck}, phishingUsage)
}

func phishingUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: brokerguard phishing check [--domain D]... [--brand B]... [--allow D]... [--config FILE] NAME...

check says which names imitate the firm's domains and brands, and how (typo, keyboard, homoglyph, idn,
added_words, other_suffix, brand_subdomain, free_hosting), with a score of 0 to 100: the test serve's
CT follower applies to every name of every certificate. Domains and brands come from the flags, or
from phishing: in the configuration file.
`)
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runPhishingCheck(ctx context.Context, args []string, std IO) error {
	var c common
	fs := newFlags("phishing check", "[flags] NAME...", std)
	fs.StringVar(&c.config, "config", "", "configuration file (YAML) whose phishing: section names the domains and brands")
	var domains, brands, allow multiFlag
	fs.Var(&domains, "domain", "the firm's own domain (repeat)")
	fs.Var(&brands, "brand", "a word of the firm's brand (repeat)")
	fs.Var(&allow, "allow", "a partner's domain, never reported (repeat)")
	asJSON := fs.Bool("json", false, "print findings as JSON Lines")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return ErrUsage
	}
	p := config.Phishing{Domains: domains, Brands: brands, Allow: allow}
	if len(domains) == 0 && len(brands) == 0 {
		cfg, err := loadConfig(fs, &c, std.Environ)
		if err != nil {
			return err
		}
		p = cfg.Phishing
		if len(p.Domains) == 0 && len(p.Brands) == 0 {
			return fmt.Errorf("phishing check: give --domain or --brand, or a configuration with phishing.domains")
		}
	}
	m, err := phishingMatcher(p)
	if err != nil {
		return err
	}
	for _, name := range fs.Args() {
		f, ok := m.Match(name)
		switch {
		case *asJSON:
			if !ok {
				f = phishing.Finding{Name: name}
			}
			b, err := json.Marshal(f)
			if err != nil {
				return err
			}
			fmt.Fprintf(std.Stdout, "%s\n", b)
		case ok:
			fmt.Fprintf(std.Stdout, "%s\tlookalike of %q, score %d: %s\n", f.Unicode, f.Brand, f.Score, strings.Join(f.Techniques, ", "))
		default:
			fmt.Fprintf(std.Stdout, "%s\tno\n", name)
		}
	}
	return nil
}
