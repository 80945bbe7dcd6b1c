package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/store"
)

// runDB reports on the store and applies its retention.
func runDB(ctx context.Context, args []string, std IO) error {
	return runSubcommand(ctx, "db", args, std, map[string]func(context.Context, []string, IO) error{
		"stats": runDBStats, "compact": runDBCompact}, dbUsage)
}

func dbUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: brokerguard db stats [--json] [store flags]
       brokerguard db compact [--quotes D] [--raw-events D] [--json] [store flags]

stats shows what the store holds: rows and bytes per table, events by type, the event time range,
the database files and their free space. compact deletes the events older than the configured
retention (retention.quotes, retention.raw_events; measured back from the latest stored event's
time) and gives their space back (SQLite: VACUUM, which needs free disk about the database's size
and makes writers wait; PostgreSQL: VACUUM (ANALYZE)). Stop serve before compacting a SQLite store.
Store flags: --config FILE, --data-dir DIR, --db URL|FILE.db (the store of serve with the same flags).
`)
}

// dbFlags are the flags that name the store, and --json.
func dbFlags(name, synopsis string, std IO, c *common, asJSON *bool) *flag.FlagSet {
	fs := newFlags("db "+name, synopsis, std)
	fs.StringVar(&c.config, "config", "", "configuration file (YAML); see brokerguard.example.yaml")
	fs.StringVar(&c.dataDir, "data-dir", "", "data directory of the embedded database (default brokerguard-data)")
	fs.StringVar(&c.db, "db", "", "store: postgres://… URL, or a SQLite file path ending in .db (default: SQLite in the data directory)")
	fs.BoolVar(asJSON, "json", false, "print the report as JSON")
	return fs
}

// openExistingStore opens the store the configuration names; a SQLite database that does not exist
// is an error, not a new empty store. A guest (db stats) reads beside a running server; otherwise
// (db compact) the store is taken alone, and a server using it is named.
func openExistingStore(ctx context.Context, cfg config.Config, guest bool) (store.Store, store.Maintainer, string, error) {
	if !strings.HasPrefix(cfg.DB, "postgres://") && !strings.HasPrefix(cfg.DB, "postgresql://") {
		path := strings.TrimPrefix(cfg.DB, "sqlite:")
		if path == "" {
			path = filepath.Join(cfg.DataDir, "brokerguard.db")
		}
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, "", fmt.Errorf("no database at %s (give the store of replay or serve with --data-dir, --db or --config)", path)
		}
	}
	st, where, err := openStoreAs(ctx, cfg, guest)
	if err != nil {
		return nil, nil, "", err
	}
	m, ok := st.(store.Maintainer)
	if !ok {
		st.Close()
		return nil, nil, "", fmt.Errorf("%s cannot report its size or delete old events", where)
	}
	return st, m, where, nil
}

// dbStatsReport is db stats --json.
type dbStatsReport struct {
	Store string `json:"store"`
	store.Stats
}

func runDBStats(ctx context.Context, args []string, std IO) error {
	var (
		c      common
		asJSON bool
	)
	fs := dbFlags("stats", "[flags]", std, &c, &asJSON)
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return ErrUsage
	}
	cfg, err := loadConfig(fs, &c, std.Environ)
	if err != nil {
		return err
	}
	st, m, where, err := openExistingStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := m.Stats(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSONReport(std.Stdout, dbStatsReport{Store: where, Stats: s})
	}
	return writeStats(std.Stdout, where, s)
}

func writeStats(w io.Writer, where string, s store.Stats) error {
	fmt.Fprintf(w, "store: %s, %s\n", where, byteSize(s.Bytes))
	if s.First.IsZero() {
		fmt.Fprintln(w, "events: none")
	} else {
		fmt.Fprintf(w, "events: from %s to %s (data time)\n", s.First.Format(time.RFC3339), s.Last.Format(time.RFC3339))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nTABLE\tROWS\tBYTES\t")
	for _, t := range s.Tables {
		size := "?"
		if t.Bytes >= 0 {
			size = byteSize(t.Bytes)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t\n", t.Name, t.Rows, size)
	}
	fmt.Fprintln(tw, "\nEVENT TYPE\tEVENTS\t\t")
	for _, tc := range s.EventTypes {
		fmt.Fprintf(tw, "%s\t%d\t\t\n", tc.Type, tc.Events)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "(bytes: %s)\n", s.Detail)
	for _, f := range s.Files {
		fmt.Fprintf(w, "file %s: %s\n", f.Path, byteSize(f.Bytes))
	}
	switch s.Engine {
	case "sqlite":
		fmt.Fprintf(w, "free pages: %d of %d bytes (%s), reused before the file grows; db compact gives them back\n",
			s.FreePages, s.PageSize, byteSize(s.FreePages*s.PageSize))
	case "postgres":
		fmt.Fprintf(w, "dead rows: %d (VACUUM reclaims them; db compact runs it)\n", s.DeadRows)
	}
	return nil
}

// dbCompactReport is what db compact did.
type dbCompactReport struct {
	Store          string    `json:"store"`
	QuotesKept     string    `json:"quotes_kept"`     // the retention applied, "forever" for 0
	RawEventsKept  string    `json:"raw_events_kept"` // likewise
	DataTime       time.Time `json:"data_time,omitzero"`
	QuotesBefore   time.Time `json:"quotes_before,omitzero"`
	EventsBefore   time.Time `json:"events_before,omitzero"`
	QuotesDeleted  int64     `json:"quotes_deleted"`
	EventsDeleted  int64     `json:"events_deleted"`
	EventsLeft     int64     `json:"events_left"`
	BytesBefore    int64     `json:"bytes_before"`
	BytesAfter     int64     `json:"bytes_after"`
	CompactSeconds float64   `json:"compact_seconds"`
}

func runDBCompact(ctx context.Context, args []string, std IO) error {
	var (
		c      common
		asJSON bool
	)
	fs := dbFlags("compact", "[flags]", std, &c, &asJSON)
	quotes := fs.Duration("quotes", 0, "keep quotes this long in data time, 0 forever (default: retention.quotes of the configuration)")
	raw := fs.Duration("raw-events", 0, "keep account events this long in data time, 0 forever (default: retention.raw_events)")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return ErrUsage
	}
	cfg, err := loadConfig(fs, &c, std.Environ)
	if err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "quotes":
			cfg.Retention.Quotes = *quotes
		case "raw-events":
			cfg.Retention.RawEvents = *raw
		}
	})
	if err := cfg.Validate(); err != nil {
		return err
	}
	st, m, where, err := openExistingStore(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer st.Close()
	before, err := st.Extent(ctx)
	if err != nil {
		return err
	}
	r := store.Retention{Quotes: cfg.Retention.Quotes, RawEvents: cfg.Retention.RawEvents}
	p, err := m.Prune(ctx, r)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := m.Compact(ctx); err != nil {
		return fmt.Errorf("compact: %d quotes and %d account events were deleted, but the space was not given back: %w", p.Quotes, p.Events, err)
	}
	took := time.Since(start)
	after, err := st.Extent(ctx)
	if err != nil {
		return err
	}
	rep := dbCompactReport{Store: where, QuotesKept: keptFor(r.Quotes), RawEventsKept: keptFor(r.RawEvents),
		DataTime: p.DataTime, QuotesBefore: p.QuotesBefore, EventsBefore: p.EventsBefore,
		QuotesDeleted: p.Quotes, EventsDeleted: p.Events, EventsLeft: after.Events,
		BytesBefore: before.Bytes, BytesAfter: after.Bytes, CompactSeconds: took.Seconds()}
	if asJSON {
		return writeJSONReport(std.Stdout, rep)
	}
	w := std.Stdout
	fmt.Fprintf(w, "store: %s\n", where)
	fmt.Fprintf(w, "retention: quotes %s, account events %s", rep.QuotesKept, rep.RawEventsKept)
	if !p.DataTime.IsZero() {
		fmt.Fprintf(w, ", back from the latest event at %s", p.DataTime.Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	if !p.QuotesBefore.IsZero() {
		fmt.Fprintf(w, "deleted %d quotes before %s (kept: the last of each symbol and day, and the two latest quote days)\n",
			p.Quotes, p.QuotesBefore.Format(time.RFC3339))
	}
	if !p.EventsBefore.IsZero() {
		fmt.Fprintf(w, "deleted %d account events before %s (their decisions and alerts stay)\n", p.Events, p.EventsBefore.Format(time.RFC3339))
	}
	if r.Keeps() {
		fmt.Fprintln(w, "nothing deleted: the retention keeps every event (set retention.quotes in the configuration, or --quotes 72h)")
	}
	fmt.Fprintf(w, "%d events left; size %s before, %s after (%s)\n", after.Events, byteSize(before.Bytes), byteSize(after.Bytes),
		took.Round(time.Millisecond))
	return nil
}

// keptFor describes a retention period.
func keptFor(d time.Duration) string {
	if d <= 0 {
		return "forever"
	}
	return d.String()
}
