package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/compensation"
	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/desk"
	"github.com/brokerguard/brokerguard/internal/httpapi"
	"github.com/brokerguard/brokerguard/internal/incident"
	"github.com/brokerguard/brokerguard/internal/ingest"
	"github.com/brokerguard/brokerguard/internal/report"
	"github.com/brokerguard/brokerguard/internal/store"
)

func runServe(ctx context.Context, args []string, std IO) error {
	fs := newFlags("serve", "[flags]", std)
	var c common
	addCommon(fs, &c)
	listen := fs.String("listen", "", "address to listen on (default 127.0.0.1:8080)")
	addrFile := fs.String("addr-file", "", "write the address the server listens on to this file once it accepts requests")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until the server stops")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	cfg, err := loadConfig(fs, &c, std.Environ)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	log := newLogger(std.Stderr, cfg)
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	p, err := buildEngineWith(cfg, log, engineWith{lateness: cfg.Lateness})
	if err != nil {
		return err
	}
	defer p.Close()
	st, where, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := announceStore(ctx, std.Stderr, st, where); err != nil {
		return err
	}
	keys, err := apiKeys(cfg, log)
	if err != nil {
		return err
	}
	srv, err := startServer(ctx, p, st, cfg, keys, log)
	if err != nil {
		return err
	}
	log.Info("serving", "addr", "http://"+srv.addr, "store", where, "rules", p.live.Version)
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(srv.addr), 0o644); err != nil {
			return fmt.Errorf("addr-file: %w", err)
		}
	}
	return srv.wait()
}

// server is a running API with its ingest service.
type server struct {
	addr    string
	fixAddr string // the FIX acceptor's address, "" without one
	svc     *ingest.Service
	done    chan error
}

func (s *server) wait() error { return <-s.done }

// startServer rebuilds state from the store, listens, and serves until ctx is done; then it drains
// requests in flight, commits them, and stops.
func startServer(ctx context.Context, p *parts, st store.Store, cfg config.Config, keys []httpapi.Key, log *slog.Logger) (*server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := ingest.NewMetrics(reg)
	reg.MustRegister(ingest.NewRuleCollector(p.live, p.shadow))
	so := ingest.ServiceOptions{Engine: p.engine, Store: st, Metrics: metrics, Log: log, CommitDelay: cfg.Server.CommitDelay,
		MaxInflight: cfg.Server.MaxInflightEvents, AdmissionWait: cfg.Server.AdmissionWait,
		Timing: ingest.Timing{Lateness: cfg.Lateness, Future: cfg.FutureTolerance, Now: time.Now}, Limits: cfg.Limits.Event()}
	noticeHook, noticeRun, noticeBox, err := customerNotices(cfg, p, log)
	if err != nil {
		return nil, fmt.Errorf("notices: %w", err)
	}
	so.Committed = noticeHook
	if p.shadow != nil {
		so.ShadowVersion = p.shadow.Version
	}
	svc := ingest.NewService(so)
	start := time.Now()
	n, err := svc.Rebuild(ctx)
	if err != nil {
		return nil, err
	}
	trail := audit.New(audit.Options{Store: st, Wall: time.Now, Data: dataClock(svc)})
	var policy *compensation.Policy
	if cfg.CompensationPolicy != "" {
		pol, err := loadPolicy(cfg.CompensationPolicy)
		if err != nil {
			return nil, fmt.Errorf("compensation_policy: %w", err)
		}
		policy = pol
	}
	// The rooms that change state each replay their own audited actions over the state just rebuilt.
	dk := desk.New(desk.Options{Layer: p.engine.Campaign(), Accounts: p.engine.Accounts(), Locks: p.engine, Trail: trail, Decisions: st})
	incidents := incident.New(incident.Options{Store: st, Trail: trail, Policy: policy})
	reports := report.NewFiler(report.FilerOptions{Incidents: incidents, Trail: trail})
	actions := 0
	for _, room := range []struct {
		name    string
		restore func(context.Context) (int, error)
	}{{"desk", dk.Restore}, {"incidents", incidents.Restore}} {
		n, err := room.restore(ctx)
		if err != nil {
			return nil, fmt.Errorf("restore the %s's audited actions: %w", room.name, err)
		}
		actions += n
	}
	log.Info("state rebuilt from the store", "events", n, "analyst_actions", actions, "accounts", p.engine.Accounts().Len(),
		"took", time.Since(start).Round(time.Millisecond))
	// Keys issued with brokerguard key add are looked up in the store: keys added or revoked while the
	// server runs take effect within keyCacheFor.
	ao := httpapi.Options{Ingester: svc, Store: st, Keys: newKeyRing(keys, st, time.Now), Gatherer: reg, Registerer: reg, Log: log,
		DataNow:      dataClock(svc),
		MaxBodyBytes: cfg.Server.MaxBodyBytes, MaxBatch: cfg.Server.MaxBatch, MaxInflightRequests: cfg.Server.MaxInflightRequests,
		Desk: dk, Incidents: incidents, Reports: reports, Audit: st}
	if c := p.engine.Campaign(); c != nil {
		ao.Campaigns = c
	}
	if noticeBox != nil {
		ao.Notices = newNoticeAnswers(noticeBox, svc, trail, st, dataClock(svc))
	}
	api := httpapi.New(ao)
	con, err := newConsole(consoleParts{store: st, accounts: p.engine.Accounts(), desk: dk, layer: p.engine.Campaign(), dataNow: dataClock(svc),
		secure: cfg.Server.SecureCookies, oidc: cfg.OIDC, log: log})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	fixServe, fixLn, err := fixListener(cfg, svc, log)
	if err != nil {
		ln.Close()
		return nil, err
	}
	ctRun, err := ctFollower(cfg, st, log)
	if err != nil {
		ln.Close()
		if fixLn != nil {
			fixLn.Close()
		}
		return nil, fmt.Errorf("phishing: %w", err)
	}
	hs := &http.Server{Handler: rootHandler(api.Handler(), con), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: cfg.Server.ReadTimeout,
		WriteTimeout: cfg.Server.WriteTimeout, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	s := &server{addr: ln.Addr().String(), svc: svc, done: make(chan error, 1)}
	if fixLn != nil {
		s.fixAddr = fixLn.Addr().String()
	}
	// The long-running parts run in one group: the first to fail stops the others, and its error is
	// what serve returns. On ctx (SIGTERM) the HTTP server drains its requests first, then the ingest
	// service commits what is in and stops. The FIX acceptor, the CT follower and the notices' sender
	// stop with the group.
	g, gctx := errgroup.WithContext(ctx)
	svcCtx, stopSvc := context.WithCancel(context.Background())
	g.Go(func() error {
		err := svc.Run(svcCtx)
		if svcCtx.Err() == nil {
			return fmt.Errorf("ingest service stopped: %v", cmp.Or(err, errors.New("without an error")))
		}
		return err
	})
	g.Go(func() error {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	for _, part := range []func(context.Context) error{fixServe, ctRun, noticeRun} {
		if part != nil {
			g.Go(func() error { return part(gctx) })
		}
	}
	g.Go(func() error {
		defer stopSvc()
		<-gctx.Done()
		if ctx.Err() != nil {
			log.Info("shutting down: draining requests")
		}
		sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
		defer cancel()
		return hs.Shutdown(sctx)
	})
	go func() { s.done <- g.Wait() }()
	return s, nil
}

// rootHandler mounts the API and the browser on separate handlers: the API's paths (tokens and JSON)
// go to api, everything else to browser (the console: cookies, CSRF and CSP), or to api when there is
// no browser handler yet.
func rootHandler(api, browser http.Handler) http.Handler {
	if browser == nil {
		return api
	}
	mux := http.NewServeMux()
	for _, p := range httpapi.Paths() {
		mux.Handle(p, api)
	}
	mux.Handle("/", browser)
	return mux
}

// dataClock is the firm's data clock: the time of the latest event the service has accepted, or the
// wall clock while the store holds none.
func dataClock(svc *ingest.Service) func() time.Time {
	return func() time.Time {
		if t := svc.DataTime(); !t.IsZero() {
			return t
		}
		return time.Now().UTC()
	}
}

// apiKeys returns the configured keys, or, when none are configured, a generated admin key written to a
// file in the data directory (readable by its owner only) so that the API is never open.
func apiKeys(cfg config.Config, log *slog.Logger) ([]httpapi.Key, error) {
	var keys []httpapi.Key
	for _, k := range cfg.APIKeys {
		keys = append(keys, httpapi.Key{Name: k.Name, Role: k.Role, Hash: k.Hash()})
	}
	if len(keys) > 0 {
		return keys, nil
	}
	path := filepath.Join(cfg.DataDir, "api-key")
	b, err := config.ReadKeyFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("generated API key: %w", err)
	}
	secret := strings.TrimSpace(string(b))
	if len(secret) < 16 {
		if secret, err = newSecret(); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		if err := writeSecretFile(path, secret); err != nil {
			return nil, fmt.Errorf("write generated API key: %w", err)
		}
	}
	var k config.APIKey
	k.SetKey(secret)
	log.Warn("no api_keys configured: using a generated admin key; configure api_keys for production", "key_file", path)
	return []httpapi.Key{{Name: "generated-admin", Role: httpapi.RoleAdmin, Hash: k.Hash()}}, nil
}
