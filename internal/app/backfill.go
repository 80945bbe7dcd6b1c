package app

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/backfill"
	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/ingest"
	"github.com/brokerguard/brokerguard/internal/reconstruct"
)

// runBackfill re-runs detection over history with the engine replay builds (detectHistory: the same
// decoding, duplicate handling and reordering as replay) and hands every processed event, decision
// and alert to a backfill.Backfill; it then writes the proposed incidents.
func runBackfill(ctx context.Context, args []string, std IO) error {
	fs := newFlags("backfill", `--from YYYY-MM-DD --events FILE [--events FILE…] --out FILE [--incidents-out FILE] [--reported-out FILE] [flags]

Re-runs detection over history with the engine replay uses and proposes an incident for each account
whose suspicious sessions look like a takeover that no fraud_report followed. Events before --from
only teach the profiles. Each --out line is a proposal, best first: rank, id (bf-RANK), account,
score (0..1000) and tier, the proposed unauthorized window (start, end), the orders placed in it, the
sessions, the yen bought, sold and in all (value_yen), what the score rests on (score_basis) and the
evidence of each session (first and last time, login, addresses, devices, reason codes, decisions
with their actions and scores, alerts, orders with their executions). --incidents-out writes the same
proposals as incidents lines ({"id", "account", "orders", "sessions"}) for compensate and tally, whose
incidents reader refuses fields it does not know. Episodes that the customer reported are not
proposed; --reported-out lists them (ids rep-RANK, with the report).`, std)
	var c common
	fs.StringVar(&c.config, "config", "", "configuration file (YAML); see brokerguard.example.yaml")
	fs.StringVar(&c.ipdb, "ipdb", "", "folder of MaxMind DB files (ASN, country) and hosting-asns.txt / vpn-asns.txt")
	fs.StringVar(&c.rules, "rules", "", "rules file (default: the shipped rule pack)")
	fs.StringVar(&c.model, "model", "", "scoring model file (default: the shipped model)")
	fs.BoolVar(&c.noCampaign, "no-campaign", false, "turn the cross-account campaign layer off")
	fs.DurationVar(&c.lateness, "lateness", 0, "how late an event may arrive and still be processed in time order (default 5m)")
	var files fileList
	fs.Var(&files, "events", "event log: JSON Lines, plain or gzip; repeat for several files, given in time order; - for standard input (required)")
	from := fs.String("from", "", "start of the period under review: YYYY-MM-DD (JST) or RFC 3339; earlier events only teach the profiles (required)")
	out := fs.String("out", "", "write the proposals here, ranked, one JSON line each with its evidence; - for standard output (required)")
	incidentsOut := fs.String("incidents-out", "", "also write each proposal as an incidents line for compensate and tally (id bf-RANK)")
	reportedOut := fs.String("reported-out", "", "write the episodes that a fraud_report followed here (not proposed; ids rep-RANK)")
	minScore := fs.Int("min-score", 300, "leave out episodes whose evidence scores below this (0..1000; 0 keeps every one)")
	gap := fs.Duration("gap", backfill.DefaultGap, "suspicious sessions of an account further apart than this are separate episodes")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprintf(std.Stderr, "brokerguard backfill: "+format+"\n", a...)
		return ErrUsage
	}
	if len(files) == 0 || *from == "" || *out == "" {
		fmt.Fprintln(std.Stderr, "brokerguard backfill: --from, --events and --out are required")
		fs.Usage()
		return ErrUsage
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q (each events file needs its own --events)", fs.Arg(0))
	}
	fromT, err := parseFrom(*from)
	if err != nil {
		return usageErr("--from: %v", err)
	}
	if *minScore < 0 || *minScore > 1000 {
		return usageErr("--min-score: want 0..1000, got %d", *minScore)
	}
	if *gap <= 0 {
		return usageErr("--gap: want a positive duration, got %s", *gap)
	}
	stdin, stdout := 0, 0
	for _, f := range files {
		if f == "-" {
			stdin++
		}
	}
	for _, o := range []string{*out, *incidentsOut, *reportedOut} {
		if o == "-" {
			stdout++
		}
	}
	if stdin > 1 {
		return usageErr("--events: standard input (-) can be given once")
	}
	if stdout > 1 {
		return usageErr("--out, --incidents-out and --reported-out: only one of them can be standard output (-)")
	}
	for _, f := range files {
		if f == "-" {
			continue
		}
		if st, err := os.Stat(f); err != nil {
			return fmt.Errorf("events: %w", err)
		} else if st.IsDir() {
			return fmt.Errorf("events: %s is a directory", f)
		}
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

	// Open every output before the long run, so that a bad path fails at once.
	type output struct {
		flag, path string
		w          io.Writer
		close      func() error
	}
	outs := []*output{{flag: "out", path: *out}, {flag: "incidents-out", path: *incidentsOut}, {flag: "reported-out", path: *reportedOut}}
	for _, o := range outs {
		w, cl, err := openOutput(o.path, std.Stdout)
		if err != nil {
			for _, prev := range outs {
				if prev.close != nil {
					prev.close()
				}
			}
			return fmt.Errorf("--%s: %w", o.flag, err)
		}
		o.w, o.close = w, cl
	}
	closeAll := func() error {
		var errs []error
		for _, o := range outs {
			if err := o.close(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", o.path, err))
			}
		}
		return errors.Join(errs...)
	}

	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		closeAll()
		return fmt.Errorf("cpuprofile: %w", err)
	}
	defer stopProfile()
	in := &eventFiles{names: files, stdin: std.Stdin}
	defer in.Close()
	bf := backfill.New(backfill.Options{From: fromT, Gap: *gap, MinScore: *minScore})
	start := time.Now()
	var beforeFrom int64
	keep := func(ev *event.Event) bool {
		if ev.Time.Before(fromT) {
			beforeFrom++
		}
		return bf.Needs(ev)
	}
	prog := newProgress(std.Stderr)
	sum, err := detectHistory(ctx, in, p.engine, cfg.Lateness, keep, func(ev *event.Event, out *detect.Outcome) {
		var d *event.Decision
		if out.Decided {
			d = &out.Decision
		}
		bf.Observe(ev, d)
		for i := range out.Alerts {
			bf.ObserveAlert(&out.Alerts[i])
		}
	}, func(lines int64) { prog.count("re-deciding", lines, "events") })
	prog.clear()
	if err != nil {
		closeAll()
		return fmt.Errorf("backfill: %w", err)
	}
	proposals, reported := bf.Proposals()
	wall := time.Since(start)

	werr := writeProposals(outs[0].w, proposals)
	if werr == nil && outs[1].w != nil {
		werr = writeIncidentLines(outs[1].w, proposals)
	}
	if werr == nil && outs[2].w != nil {
		werr = writeProposals(outs[2].w, reported)
	}
	if cerr := closeAll(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("output: %w", werr)
	}

	st := bf.Stats()
	fmt.Fprintf(std.Stderr, "backfill: %d lines, %d events decided on (%d before --from %s only taught the profiles), %d rejected, %d repeated ids ignored, in %s (%.0f events/s)\n",
		sum.Lines, sum.Accepted, beforeFrom, fromT.In(reconstruct.JST).Format(time.RFC3339), sum.Rejected, sum.Duplicates,
		wall.Round(time.Millisecond), float64(sum.Lines)/max(wall.Seconds(), 1e-9))
	for _, e := range sum.FirstErrors {
		fmt.Fprintf(std.Stderr, "  %s\n", in.where(e))
	}
	if n := sum.Rejected; n > int64(len(sum.FirstErrors)) {
		fmt.Fprintf(std.Stderr, "  … and %d more\n", n-int64(len(sum.FirstErrors)))
	}
	fmt.Fprintf(std.Stderr, "backfill: %d %s flagged, %d suspicious sessions in %d episodes: %d proposed, %d reported by the customer (not proposed), %d below --min-score %d\n",
		st.AccountsFlagged, plural(st.AccountsFlagged, "account", "accounts"), st.Sessions, st.Episodes,
		st.Proposals, st.Reported, st.BelowMinScore, *minScore)
	if len(proposals) > 0 {
		top := proposals[0]
		fmt.Fprintf(std.Stderr, "backfill: first proposal %s: account %s, score %d (%s), %d orders, %s yen traded\n",
			top.ID, top.Account, top.Score, top.Tier, len(top.Orders), top.Value.Grouped())
	}
	return nil
}

// parseFrom reads --from: a date (midnight JST) or an RFC 3339 instant.
func parseFrom(s string) (time.Time, error) {
	if d, err := reconstruct.ParseDay(s); err == nil {
		return d.Start(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("want a date YYYY-MM-DD (JST) or an RFC 3339 time, got %q", s)
}

func writeProposals(w io.Writer, ps []*backfill.Proposal) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, p := range ps {
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func writeIncidentLines(w io.Writer, ps []*backfill.Proposal) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, p := range ps {
		inc := p.Incident()
		if err := enc.Encode(&inc); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// fileList is a repeatable string flag.
type fileList []string

func (l *fileList) String() string { return strings.Join(*l, ",") }

func (l *fileList) Set(s string) error {
	if s == "" {
		return errors.New("empty file name")
	}
	*l = append(*l, s)
	return nil
}

// historySummary counts what a detection run over history read.
type historySummary struct {
	Lines, Accepted, Duplicates, Rejected int64
	// FirstErrors are the first few rejected lines, "line N: …".
	FirstErrors []string
}

// detectHistory runs the engine over an event log with replay's pipeline (decoding on every core,
// repeated ids ignored, events up to the lateness late put back in time order, later ones
// rejected) and hands every processed event that keep wants (all when keep is nil), or that raised an
// alert, with its outcome, to observe, in processing order. It persists and writes nothing, and does
// not check event times against the wall clock: history is in the past.
func detectHistory(ctx context.Context, in io.Reader, eng *detect.Engine, lateness time.Duration,
	keep func(ev *event.Event) bool, observe func(ev *event.Event, out *detect.Outcome), progress func(lines int64)) (historySummary, error) {
	sum, err := ingest.Replay(ctx, in, ingest.ReplayOptions{Engine: eng, Timing: ingest.Timing{Lateness: lateness, Now: time.Now},
		Keep: keep, Observe: observe, Progress: progress})
	return historySummary{Lines: sum.Lines, Accepted: sum.Accepted, Duplicates: sum.Duplicates, Rejected: sum.ErrorCount(),
		FirstErrors: sum.FirstErrors}, err
}

// eventFiles reads several event files (each plain or gzip) as one stream of lines, in the order
// given, and remembers where each file's lines fall so that an error's line number can name its
// file.
type eventFiles struct {
	names []string
	stdin io.Reader
	cur   int
	f     *os.File
	r     io.Reader
	gz    *gzip.Reader
	// ends[i] is the number of the last line of file i in the joined stream.
	ends     []int64
	lines    int64
	last     byte
	any      bool
	pending  bool // a newline to add after a file that does not end with one
	finished bool
}

func (e *eventFiles) open() error {
	name := e.names[e.cur]
	var src io.Reader = e.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("events: %w", err)
		}
		e.f, src = f, f
	}
	br := bufio.NewReaderSize(src, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("events %s: %w", name, err)
		}
		e.gz, e.r = gz, gz
	} else {
		e.r = br
	}
	e.any, e.last = false, 0
	return nil
}

func (e *eventFiles) closeCur() {
	if e.gz != nil {
		e.gz.Close()
		e.gz = nil
	}
	if e.f != nil {
		e.f.Close()
		e.f = nil
	}
	e.r = nil
}

// Read implements io.Reader.
func (e *eventFiles) Read(p []byte) (int, error) {
	for {
		if e.pending {
			if len(p) == 0 {
				return 0, nil
			}
			e.pending = false
			p[0] = '\n'
			e.lines++
			e.ends = append(e.ends, e.lines)
			e.cur++
			return 1, nil
		}
		if e.cur >= len(e.names) {
			e.finished = true
			return 0, io.EOF
		}
		if e.r == nil {
			if err := e.open(); err != nil {
				return 0, err
			}
		}
		n, err := e.r.Read(p)
		if n > 0 {
			e.lines += int64(bytes.Count(p[:n], []byte{'\n'}))
			e.last, e.any = p[n-1], true
		}
		if errors.Is(err, io.EOF) {
			e.closeCur()
			if e.any && e.last != '\n' {
				e.pending = true
			} else {
				e.ends = append(e.ends, e.lines)
				e.cur++
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			return n, fmt.Errorf("events %s: %w", e.names[e.cur], err)
		}
		return n, nil
	}
}

// Close closes the file being read.
func (e *eventFiles) Close() error {
	e.closeCur()
	return nil
}

var lineRef = regexp.MustCompile(`^line (\d+): `)

// where rewrites "line N: …" of the joined stream as "FILE line M: …" once every file has been read.
func (e *eventFiles) where(msg string) string {
	m := lineRef.FindStringSubmatch(msg)
	if m == nil || !e.finished {
		return msg
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	var before int64
	for i, end := range e.ends {
		if n <= end {
			return fmt.Sprintf("%s line %d: %s", e.names[i], n-before, msg[len(m[0]):])
		}
		before = end
	}
	return msg
}
