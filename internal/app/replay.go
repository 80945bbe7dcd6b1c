package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/brokerguard/brokerguard/internal/ingest"
	"github.com/brokerguard/brokerguard/internal/store"
)

func runReplay(ctx context.Context, args []string, std IO) error {
	fs := newFlags("replay", "--events FILE|- --decisions OUT --alerts OUT [flags]", std)
	var c common
	addCommon(fs, &c)
	events := fs.String("events", "", "event log: JSON Lines, plain or gzip; - for standard input (required)")
	decisions := fs.String("decisions", "", "write decisions here (JSON Lines; - for standard output)")
	alerts := fs.String("alerts", "", "write alerts here (JSON Lines)")
	shadowOut := fs.String("shadow-decisions", "", "write the shadow rule set's decisions here")
	noStore := fs.Bool("no-store", false, "do not persist events, decisions and alerts")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if *events == "" {
		fmt.Fprintln(std.Stderr, "brokerguard replay: --events is required")
		fs.Usage()
		return ErrUsage
	}
	cfg, err := loadConfig(fs, &c, std.Environ)
	if err != nil {
		return err
	}
	log := newLogger(std.Stderr, cfg)
	batchGC(std.Environ)
	p, err := buildEngine(cfg, log)
	if err != nil {
		return err
	}
	defer p.Close()

	var in io.Reader = std.Stdin
	var size int64
	var counter *countingReader
	if *events != "-" {
		f, err := os.Open(*events)
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		counter = &countingReader{r: f}
		in = counter
	}
	var st store.Store
	if !*noStore {
		s, where, err := openStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer s.Close()
		st = s
		log.Debug("store opened", "store", where)
	}
	dw, dclose, err := openOutput(*decisions, std.Stdout)
	if err != nil {
		return fmt.Errorf("decisions: %w", err)
	}
	aw, aclose, err := openOutput(*alerts, std.Stdout)
	if err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	sw, sclose, err := openOutput(*shadowOut, std.Stdout)
	if err != nil {
		return fmt.Errorf("shadow decisions: %w", err)
	}
	opts := ingest.ReplayOptions{Engine: p.engine, Store: st, Decisions: dw, Alerts: aw, Shadow: sw,
		Timing: ingest.Timing{Lateness: cfg.Lateness, Future: cfg.FutureTolerance, Now: time.Now}, Limits: cfg.Limits.Event()}
	if p.shadow != nil {
		opts.ShadowVersion = p.shadow.Version
	}
	start := time.Now()
	if f, ok := std.Stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		opts.Progress = func(lines int64) {
			el := time.Since(start).Seconds()
			msg := fmt.Sprintf("\r%d events, %.0f events/s", lines, float64(lines)/max(el, 1e-3))
			if size > 0 && counter != nil {
				msg += fmt.Sprintf(", %.0f%% read", 100*float64(counter.n)/float64(size))
			}
			fmt.Fprint(std.Stderr, msg+"   ")
		}
	}
	sum, err := ingest.Replay(ctx, in, opts)
	if opts.Progress != nil {
		fmt.Fprintln(std.Stderr)
	}
	for _, cl := range []func() error{dclose, aclose, sclose} {
		if cerr := cl(); cerr != nil && err == nil {
			err = cerr
		}
	}
	sum.Write(std.Stderr)
	return err
}

// countingReader counts the bytes read, for the progress line.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
