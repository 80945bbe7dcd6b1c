package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/ingest"
	"github.com/brokerguard/brokerguard/internal/store"
	"github.com/brokerguard/brokerguard/internal/store/postgres"
	"github.com/brokerguard/brokerguard/internal/store/sqlite"
)

// benchLogs times, on given log files, what a user's replay costs against the cheapest thing that
// reads the same file: a parse-only JSON scan (every line unmarshalled into a map[string]any, on one
// goroutine). Each run scans every log, replays it without a store, then replays the logs one after
// the other into one fresh SQLite database (and PostgreSQL schema, with pgDSN), so that the last log
// shows what the store costs once it holds the earlier ones. It prints every time, the ratios against
// the scan of the same log in the same run, and their medians.
func benchLogs(ctx context.Context, cfg config.Config, logs []string, runs int, pgDSN string, w io.Writer) error {
	type times struct{ scan, noStore, sqlite, pg []time.Duration }
	per := make([]times, len(logs))
	var events []int64
	for r := range runs {
		dir, err := os.MkdirTemp("", "brokerguard-bench-logs-")
		if err != nil {
			return err
		}
		var sq store.Store
		if sq, err = sqlite.Open(ctx, filepath.Join(dir, "bench.db"), sqlite.Options{Holder: "brokerguard bench"}); err != nil {
			os.RemoveAll(dir)
			return err
		}
		var pg store.Store
		schema := fmt.Sprintf("brokerguard_bench_%d_%d", os.Getpid(), r)
		if pgDSN != "" {
			if pg, err = postgres.Open(ctx, pgDSN, postgres.Options{Schema: schema}); err != nil {
				sq.Close()
				os.RemoveAll(dir)
				return err
			}
		}
		err = func() error {
			for i, path := range logs {
				n, scan, err := scanLog(path)
				if err != nil {
					return err
				}
				if r == 0 {
					events = append(events, n)
				}
				t := &per[i]
				t.scan = append(t.scan, scan)
				fmt.Fprintf(w, "run %d, log %d (%s, %d lines): JSON scan %s", r+1, i+1, filepath.Base(path), n, scan.Round(time.Millisecond))
				d, err := benchReplayLog(ctx, cfg, path, nil)
				if err != nil {
					return err
				}
				t.noStore = append(t.noStore, d)
				fmt.Fprintf(w, "; replay --no-store %s (%.2fx)", d.Round(time.Millisecond), ratio(d, scan))
				if d, err = benchReplayLog(ctx, cfg, path, sq); err != nil {
					return err
				}
				t.sqlite = append(t.sqlite, d)
				fmt.Fprintf(w, "; SQLite %s (%.2fx)", d.Round(time.Millisecond), ratio(d, scan))
				if pg != nil {
					if d, err = benchReplayLog(ctx, cfg, path, pg); err != nil {
						return err
					}
					t.pg = append(t.pg, d)
					fmt.Fprintf(w, "; PostgreSQL %s (%.2fx)", d.Round(time.Millisecond), ratio(d, scan))
				}
				fmt.Fprintln(w)
			}
			if ext, err := sq.Extent(ctx); err == nil {
				fmt.Fprintf(w, "run %d: SQLite holds %d events, %.0f MB\n", r+1, ext.Events, float64(ext.Bytes)/1e6)
			}
			return nil
		}()
		sq.Close()
		os.RemoveAll(dir)
		if pg != nil {
			pg.Close()
			if derr := postgres.DropSchema(context.WithoutCancel(ctx), pgDSN, schema); derr != nil && err == nil {
				err = derr
			}
		}
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "medians of %d runs (ratio: the median of each run's ratio to its own scan):\n", runs)
	for i, t := range per {
		scan := medianDur(t.scan)
		line := fmt.Sprintf("  log %d (%d events): JSON scan %s (%.0f events/s); replay --no-store %s = %.2fx; SQLite %s = %.2fx",
			i+1, events[i], scan.Round(time.Millisecond), float64(events[i])/scan.Seconds(),
			medianDur(t.noStore).Round(time.Millisecond), medianRatio(t.noStore, t.scan),
			medianDur(t.sqlite).Round(time.Millisecond), medianRatio(t.sqlite, t.scan))
		if len(t.pg) > 0 {
			line += fmt.Sprintf("; PostgreSQL %s = %.2fx", medianDur(t.pg).Round(time.Millisecond), medianRatio(t.pg, t.scan))
		}
		fmt.Fprintln(w, line)
	}
	return nil
}

func ratio(a, b time.Duration) float64 { return a.Seconds() / b.Seconds() }

func medianDur(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func medianRatio(a, b []time.Duration) float64 {
	rs := make([]float64, len(a))
	for i := range a {
		rs[i] = ratio(a[i], b[i])
	}
	return median(rs)
}

// scanLog unmarshals every line of the log into a map[string]any and returns the number of lines and
// the wall time.
func scanLog(path string) (int64, time.Duration, error) {
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	rd, err := event.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return 0, 0, err
	}
	var n int64
	for {
		line, _, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var le *event.LineError
			if errors.As(err, &le) {
				continue
			}
			return n, 0, fmt.Errorf("%s: %w", path, err)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			return n, 0, fmt.Errorf("%s: line %d: %w", path, n+1, err)
		}
		n++
	}
	return n, time.Since(start), nil
}

// benchReplayLog replays the log as `brokerguard replay` does (decisions encoded and discarded), into st
// when it is not nil, and returns the wall time from opening the file to the end.
func benchReplayLog(ctx context.Context, cfg config.Config, path string, st store.Store) (time.Duration, error) {
	p, err := buildEngine(cfg, newLogger(io.Discard, cfg))
	if err != nil {
		return 0, err
	}
	defer p.Close()
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var in io.Reader = f
	o := ingest.ReplayOptions{Engine: p.engine, Decisions: io.Discard, Alerts: io.Discard,
		Timing: ingest.Timing{Lateness: cfg.Lateness, Future: cfg.FutureTolerance, Now: time.Now}, Limits: cfg.Limits.Event()}
	if st != nil {
		var held time.Time
		if in, held, err = checkReplayStore(ctx, st, "bench", in, cfg.Lateness, io.Discard); err != nil {
			return 0, err
		}
		o.Store = st
		if !held.IsZero() {
			o.Held, o.HeldUntil = st.EventsHeld, held
		}
	}
	sum, err := ingest.Replay(ctx, in, o)
	if err != nil {
		return 0, err
	}
	if sum.Accepted == 0 {
		return 0, fmt.Errorf("%s: no event accepted (%d lines)", path, sum.Lines)
	}
	return time.Since(start), nil
}

// splitLogs splits a comma-separated list of files.
func splitLogs(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
