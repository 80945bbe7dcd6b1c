package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/brokerguard/brokerguard/internal/remedy"
)

func runCompensate(ctx context.Context, args []string, std IO) error {
	fs := newFlags("compensate", "--events FILE --incidents FILE --policy NAME|FILE --out FILE [--valuation-date YYYY-MM-DD]", std)
	events := fs.String("events", "", "event log: JSON Lines, plain or gzip; - for standard input (required)")
	incidents := fs.String("incidents", "", `incidents, one a line: {"account": ..., "orders": [...], "report_time": ..., "factors": [...]} (required)`)
	policy := fs.String("policy", "", "compensation policy: "+strings.Join(remedy.Builtins(), ", ")+", or a policy file (YAML) (required)")
	valuationDate := fs.String("valuation-date", "", "value every incident at the prices of this date (YYYY-MM-DD, JST); default: the first trading day after each report")
	out := fs.String("out", "", "write one JSON line per incident here; - for standard output (required)")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if *events == "" || *incidents == "" || *policy == "" || *out == "" {
		fmt.Fprintln(std.Stderr, "brokerguard compensate: --events, --incidents, --policy and --out are required")
		fs.Usage()
		return ErrUsage
	}
	var override *remedy.Day
	if *valuationDate != "" {
		d, err := remedy.ParseDay(*valuationDate)
		if err != nil {
			fmt.Fprintf(std.Stderr, "brokerguard compensate: --valuation-date: %v\n", err)
			return ErrUsage
		}
		override = &d
	}
	p, err := loadPolicy(*policy)
	if err != nil {
		return err
	}
	incs, bad, book, err := readIncidentsAndEvents(ctx, *incidents, *events, std)
	if err != nil {
		return err
	}
	w, closeOut, err := openOutput(*out, std.Stdout)
	if err != nil {
		return fmt.Errorf("out: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)

	// Results and errors go out in the order of the incidents file.
	results := make([]*remedy.Result, 0, len(incs)+len(bad))
	for _, e := range bad {
		results = append(results, remedy.ErrorResult(e))
	}
	computed := 0
	var total remedy.Yen
	for i := range incs {
		res, err := assess(book, &incs[i], p, override)
		if err != nil {
			res = remedy.ErrorResult(err)
		} else {
			computed++
			total = total.Add(res.Decision.Recommended)
		}
		results = append(results, res)
	}
	sort.SliceStable(results, func(i, j int) bool { return results[i].Line < results[j].Line })
	for _, res := range results {
		if res.Error != "" {
			fmt.Fprintln(std.Stderr, res.Error)
		}
		if err := enc.Encode(res); err != nil {
			closeOut()
			return fmt.Errorf("out: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		closeOut()
		return fmt.Errorf("out: %w", err)
	}
	if err := closeOut(); err != nil {
		return fmt.Errorf("out: %w", err)
	}
	failed := len(results) - computed
	fmt.Fprintf(std.Stderr, "compensate: %d %s, %d computed, %d %s; policy %s (%s); recommended in total %s yen\n",
		len(results), plural(len(results), "incident", "incidents"), computed, failed, plural(failed, "error", "errors"),
		p.Name, p.Base, total.Grouped())
	return nil
}

func assess(book *remedy.Book, inc *remedy.Incident, p *remedy.Policy, override *remedy.Day) (*remedy.Result, error) {
	rec, ierr := book.Reconstruct(inc)
	if ierr != nil {
		return nil, ierr
	}
	return remedy.Assess(rec, book, p, override)
}

func runTally(ctx context.Context, args []string, std IO) error {
	fs := newFlags("tally", "--events FILE --incidents FILE [--format csv|json] [--out FILE]", std)
	events := fs.String("events", "", "event log: JSON Lines, plain or gzip; - for standard input (required)")
	incidents := fs.String("incidents", "", `incidents, one a line: {"account": ..., "orders": [...], "sessions": [...]} (required)`)
	format := fs.String("format", "csv", "csv (with a header row) or json")
	out := fs.String("out", "-", "write the monthly rows here; - for standard output")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if *events == "" || *incidents == "" {
		fmt.Fprintln(std.Stderr, "brokerguard tally: --events and --incidents are required")
		fs.Usage()
		return ErrUsage
	}
	if *format != "csv" && *format != "json" {
		fmt.Fprintf(std.Stderr, "brokerguard tally: --format: want csv or json, got %q\n", *format)
		return ErrUsage
	}
	incs, bad, book, err := readIncidentsAndEvents(ctx, *incidents, *events, std)
	if err != nil {
		return err
	}
	var recs []*remedy.Reconstruction
	for _, e := range bad {
		fmt.Fprintln(std.Stderr, e)
	}
	failed := len(bad)
	for i := range incs {
		rec, ierr := book.Reconstruct(&incs[i])
		if ierr != nil {
			fmt.Fprintln(std.Stderr, ierr)
			failed++
			continue
		}
		recs = append(recs, rec)
	}
	rows := remedy.Tally(recs)
	w, closeOut, err := openOutput(*out, std.Stdout)
	if err != nil {
		return fmt.Errorf("out: %w", err)
	}
	if *format == "json" {
		err = writeJSONReport(w, rows)
	} else {
		err = remedy.WriteTallyCSV(w, rows)
	}
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("out: %w", err)
	}
	fmt.Fprintf(std.Stderr, "tally: %d %s counted", len(recs), plural(len(recs), "incident", "incidents"))
	if failed > 0 {
		fmt.Fprintf(std.Stderr, "; %d left out for the errors above", failed)
	}
	fmt.Fprintln(std.Stderr)
	return nil
}

// loadPolicy returns the built-in policy of that name, or reads the policy file.
func loadPolicy(nameOrFile string) (*remedy.Policy, error) {
	if p, ok := remedy.Builtin(nameOrFile); ok {
		return p, nil
	}
	if _, err := os.Stat(nameOrFile); err != nil && !strings.ContainsAny(nameOrFile, `/\.`) {
		return nil, fmt.Errorf("policy %q: not a built-in policy (%s) nor a file", nameOrFile, strings.Join(remedy.Builtins(), ", "))
	}
	return remedy.LoadPolicy(nameOrFile)
}

// readIncidentsAndEvents reads the incidents, then the event log once for them. Bad event lines are
// reported on stderr (the first few) and counted; they do not stop the run.
func readIncidentsAndEvents(ctx context.Context, incidentsFile, eventsFile string, std IO) ([]remedy.Incident, []*remedy.IncidentError, *remedy.Book, error) {
	f, err := os.Open(incidentsFile)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("incidents: %w", err)
	}
	incs, bad, err := remedy.ReadIncidents(f)
	f.Close()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("incidents: %w", err)
	}
	var in io.Reader = std.Stdin
	if eventsFile != "-" {
		ef, err := os.Open(eventsFile)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("events: %w", err)
		}
		defer ef.Close()
		in = ef
	}
	book, err := remedy.Collect(ctx, in, incs)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("events: %w", err)
	}
	st := book.Stats()
	for _, e := range st.Errors {
		fmt.Fprintf(std.Stderr, "events: %v\n", e)
	}
	fmt.Fprintf(std.Stderr, "events: %d lines, %d bad, %d repeated ids ignored\n", st.Lines, st.Bad, st.Duplicates)
	return incs, bad, book, nil
}
