package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
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
	var heldUntil time.Time // events up to it may be stored already: look them up
	if !*noStore {
		s, where, err := openStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer s.Close()
		st = s
		if in, heldUntil, err = checkReplayStore(ctx, s, where, in, cfg.Lateness, std.Stderr); err != nil {
			return err
		}
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
	if !heldUntil.IsZero() {
		opts.Held, opts.HeldUntil = st.EventsHeld, heldUntil
	}
	prog := newProgress(std.Stderr)
	if prog.tty {
		opts.Progress = func(lines int64) {
			if size > 0 && counter != nil {
				prog.read("replaying", counter.n, size)
				return
			}
			prog.count("replaying", lines, "events")
		}
	}
	sum, err := ingest.Replay(ctx, in, opts)
	prog.clear()
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

// checkReplayStore says which store the replay writes and what it holds, and compares that with the
// log's first event. A log that starts after the store's latest event adds to it. A log whose first
// event the store holds is a replay of events already stored: they are counted as duplicates, so
// heldUntil (the store's latest event time) is returned to look them up. A log that starts before
// the store's latest event (by more than the lateness) with an event the store does not hold is
// another log: the replay is refused, saying what to do instead. The returned reader gives the whole
// log, the lines read to find the first event included.
func checkReplayStore(ctx context.Context, st store.Store, where string, in io.Reader, lateness time.Duration, w io.Writer) (io.Reader, time.Time, error) {
	ext, err := announceStore(ctx, w, st, where)
	if err != nil || ext.Events == 0 {
		return in, time.Time{}, err
	}
	in, first := peekFirstEvent(in)
	if first == nil {
		return in, time.Time{}, nil
	}
	if first.Time.After(ext.Last) {
		fmt.Fprintf(w, "replay: adding this log (from %s) to the %d events held; --data-dir NEW-DIR or --no-store keeps it apart\n",
			first.Time.Format(time.RFC3339), ext.Events)
		return in, time.Time{}, nil
	}
	held, err := st.EventsHeld(ctx, []string{first.ID})
	if err != nil {
		return in, time.Time{}, err
	}
	switch {
	case held[0]:
		fmt.Fprintf(w, "replay: the store holds this log's first event (%q) already; events it holds are counted as duplicates and not decided again\n", first.ID)
	case first.Time.Before(ext.Last.Add(-lateness)):
		return in, time.Time{}, fmt.Errorf("replay: the store %s already holds %d events up to %s, and this log starts before that, at %s, "+
			"with an event that the store does not hold (%q): replaying it there would mix two logs, and a server on this store refuses "+
			"such events as too late. Replay into a new store (--data-dir NEW-DIR, or --db NEW.db) or without one (--no-store)",
			where, ext.Events, ext.Last.Format(time.RFC3339), first.Time.Format(time.RFC3339), first.ID)
	}
	return in, ext.Last, nil
}

// peekFirstEvent reads the log (plain or gzip) up to its first event that decodes, among its first
// lines, and returns a reader of the whole log with that event; nil when there is none.
func peekFirstEvent(in io.Reader) (io.Reader, *event.Event) {
	rec := &recorder{r: in}
	whole := func() io.Reader { return io.MultiReader(bytes.NewReader(rec.buf.Bytes()), in) }
	rd, err := event.NewReader(rec)
	if err != nil {
		return whole(), nil
	}
	for range 1000 {
		line, _, err := rd.Next()
		var le *event.LineError
		if errors.As(err, &le) {
			continue
		}
		if err != nil {
			break
		}
		if ev, err := event.Decode(line); err == nil {
			return whole(), &ev
		}
	}
	return whole(), nil
}

// recorder keeps what is read through it.
type recorder struct {
	r   io.Reader
	buf bytes.Buffer
}

func (r *recorder) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.buf.Write(b[:n])
	return n, err
}
