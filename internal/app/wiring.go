package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/campaign"
	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/ipintel"
	"github.com/brokerguard/brokerguard/internal/links"
	"github.com/brokerguard/brokerguard/internal/rules"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/postgres"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

// common are the flags every engine-running command takes; a flag given overrides file and environment.
type common struct {
	config, dataDir, db, ipdb, rules, shadow, model string
	lateness                                        time.Duration
	noCampaign                                      bool
}

func addCommon(fs *flag.FlagSet, c *common) {
	fs.StringVar(&c.config, "config", "", "configuration file (YAML); see brokerguard.example.yaml")
	fs.StringVar(&c.dataDir, "data-dir", "", "data directory for the embedded database (default brokerguard-data)")
	fs.StringVar(&c.db, "db", "", "store: postgres://… URL, or a SQLite file path ending in .db (default: SQLite in the data directory)")
	fs.StringVar(&c.ipdb, "ipdb", "", "folder of MaxMind DB files (ASN, country) and hosting-asns.txt / vpn-asns.txt")
	fs.StringVar(&c.rules, "rules", "", "rules file (default: the shipped rule pack)")
	fs.StringVar(&c.shadow, "shadow-rules", "", "rules file to run in shadow beside the live rules")
	fs.StringVar(&c.model, "model", "", "scoring model file (default: the shipped model)")
	fs.BoolVar(&c.noCampaign, "no-campaign", false, "turn the cross-account campaign layer off (herding, ramps, beneficiaries, watchlist)")
	fs.DurationVar(&c.lateness, "lateness", 0, "how late an event may arrive and still be processed in time order (default 5m)")
}

// loadConfig builds the configuration: defaults, file, environment, then the flags that were given.
func loadConfig(fs *flag.FlagSet, c *common, env []string) (config.Config, error) {
	path := c.config
	if path == "" {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "BROKERGUARD_CONFIG="); ok {
				path = v
			}
		}
	}
	cfg, err := config.Load(path, env)
	if err != nil {
		return cfg, err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "data-dir":
			cfg.DataDir = c.dataDir
		case "db":
			cfg.DB = c.db
		case "ipdb":
			cfg.IPDB = c.ipdb
		case "rules":
			cfg.Rules = c.rules
		case "shadow-rules":
			cfg.ShadowRules = c.shadow
		case "model":
			cfg.Model = c.model
		case "lateness":
			cfg.Lateness = c.lateness
		case "no-campaign":
			cfg.Campaign.Enabled = !c.noCampaign
		}
	})
	return cfg, cfg.Validate()
}

// parts are the components a command runs with.
type parts struct {
	cfg    config.Config
	engine *detect.Engine
	ip     *ipintel.DB
	live   *rules.Set
	shadow *rules.Set
	closer []func() error
}

func (p *parts) Close() error {
	var errs []error
	for i := len(p.closer) - 1; i >= 0; i-- {
		errs = append(errs, p.closer[i]())
	}
	return errors.Join(errs...)
}

// engineWith is what a command gives the engine beside what cfg names; the engine is complete once
// built.
type engineWith struct {
	// scorer, when set, scores in place of the model cfg names (sweep, fit).
	scorer detect.Scorer
	// ip, when set, is the IP intelligence in place of the IP data cfg names (the simulator's table).
	ip detect.IPIntel
	// lateness keeps each account's events of the lateness so that a late one is put at its place:
	// for the HTTP API, where several clients may bring an account's events out of time order.
	lateness time.Duration
}

// buildEngine loads the IP data, rules and model named by cfg and returns a fresh engine.
func buildEngine(cfg config.Config, log *slog.Logger) (*parts, error) {
	return buildEngineWith(cfg, log, engineWith{})
}

// buildEngineWith is buildEngine with what the command adds (see engineWith).
func buildEngineWith(cfg config.Config, log *slog.Logger, with engineWith) (*parts, error) {
	p := &parts{cfg: cfg}
	opts := detect.Options{Thresholds: cfg.Thresholds, AlertScore: cfg.AlertScore, Links: links.New(24 * 3600),
		NoCampaign: !cfg.Campaign.Enabled, LockFor: cfg.FraudReportLock, Lateness: with.lateness}
	if cfg.Campaign.Enabled {
		opts.Campaign = campaign.New(cfg.Campaign.Config)
	}
	if cfg.IPDB != "" {
		db, err := ipintel.Open(cfg.IPDB)
		if err != nil {
			return nil, fmt.Errorf("ipdb: %w", err)
		}
		p.ip = db
		p.closer = append(p.closer, db.Close)
		opts.IP = db
		log.Info("IP intelligence loaded", "ipdb", cfg.IPDB, "files", db.Describe())
	}
	live := rules.Default()
	if cfg.Rules != "" {
		s, err := rules.Load(cfg.Rules)
		if err != nil {
			return nil, err
		}
		live = s
	}
	live.Clock = time.Now // each rule's evaluation time, for the rule metrics
	p.live, opts.Rules = live, live
	if cfg.ShadowRules != "" {
		s, err := rules.Load(cfg.ShadowRules)
		if err != nil {
			return nil, fmt.Errorf("shadow rules: %w", err)
		}
		s.Clock = time.Now
		p.shadow, opts.Shadow = s, s
	}
	if cfg.Model != "" {
		m, err := detect.LoadModel(cfg.Model)
		if err != nil {
			return nil, err
		}
		opts.Scorer = m
	}
	if with.scorer != nil {
		opts.Scorer = with.scorer
	}
	if with.ip != nil {
		opts.IP = with.ip
	}
	e, err := detect.New(opts)
	if err != nil {
		return nil, err
	}
	p.engine = e
	return p, nil
}

// openStore opens the store named by cfg.DB (SQLite in the data directory by default). A SQLite
// database is held by this process until the store is closed: another process opening it is refused.
func openStore(ctx context.Context, cfg config.Config) (store.Store, string, error) {
	return openStoreAs(ctx, cfg, false)
}

// openStoreAs opens the store named by cfg.DB; a guest opens a SQLite database beside the process that
// holds it, for a few small reads and writes (see sqlite.Options.Guest).
func openStoreAs(ctx context.Context, cfg config.Config, guest bool) (store.Store, string, error) {
	dsn := cfg.DB
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		s, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			return nil, "", err
		}
		return s, "postgres " + cfg.RedactedDB(), nil
	}
	path := strings.TrimPrefix(dsn, "sqlite:")
	if path == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, "", fmt.Errorf("data directory: %w", err)
		}
		path = filepath.Join(cfg.DataDir, "brokerguard.db")
	}
	s, err := sqlite.Open(ctx, path, sqlite.Options{Guest: guest})
	if err != nil {
		return nil, "", storeInUse(err, cfg, path)
	}
	return s, "sqlite " + path, nil
}

// newLogger returns the logger of a command: cfg's level and format, personal data masked (log.go).
func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl, ReplaceAttr: maskPersonal}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// announceStore says which store a command writes and what it holds already, on one line of w:
//
//	store: sqlite brokerguard-data/brokerguard.db, 1.2 MB, 35 events from 2025-04-10T09:00:00+09:00 to 2025-04-11T12:00:00+09:00
func announceStore(ctx context.Context, w io.Writer, st store.Store, where string) (store.Extent, error) {
	e, err := st.Extent(ctx)
	if err != nil {
		return e, err
	}
	held := "no events yet"
	if e.Events > 0 {
		held = fmt.Sprintf("%d %s from %s to %s", e.Events, plural(int(min(e.Events, 2)), "event", "events"),
			e.First.Format(time.RFC3339), e.Last.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "store: %s, %s, %s\n", where, byteSize(e.Bytes), held)
	return e, nil
}

// byteSize is n in bytes, KB, MB or GB (powers of 1024), as people read a size on disk.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	v, suffix := float64(n)/unit, "KB"
	for _, s := range []string{"MB", "GB", "TB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}
