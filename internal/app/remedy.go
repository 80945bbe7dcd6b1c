package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/compensation"
	"github.com/brokerguard/brokerguard/internal/money"
	"github.com/brokerguard/brokerguard/internal/reconstruct"
	"github.com/brokerguard/brokerguard/internal/report"
)

func runCompensate(ctx context.Context, args []string, std IO) error {
	fs := newFlags("compensate", "--events FILE --incidents FILE --policy NAME|FILE [--out FILE] [--csv FILE] [--evidence DIR] [--valuation-date YYYY-MM-DD]", std)
	events := fs.String("events", "", "event log: JSON Lines, plain or gzip; - for standard input (required)")
	incidents := fs.String("incidents", "", `incidents, one a line: {"account": ..., "orders": [...], "report_time": ..., "factors": [...]} (required)`)
	policy := fs.String("policy", "", "compensation policy: "+strings.Join(compensation.Builtins(), ", ")+", or a policy file (YAML) (required)")
	valuationDate := fs.String("valuation-date", "", "value every incident at the prices of this date (YYYY-MM-DD, JST); default: the first trading day after each report")
	out := fs.String("out", "", "write one JSON line per incident here; - for standard output")
	csvOut := fs.String("csv", "", "write a CSV of the compensation decisions here, one row per incident; - for standard output")
	evidenceDir := fs.String("evidence", "", "write one HTML evidence file per computed incident into this directory (created if need be)")
	heading := fs.String("heading", "", "the heading of the evidence files (e.g. the firm's name and the report's title)")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if *events == "" || *incidents == "" || *policy == "" || (*out == "" && *csvOut == "" && *evidenceDir == "") {
		fmt.Fprintln(std.Stderr, "brokerguard compensate: --events, --incidents, --policy and at least one of --out, --csv, --evidence are required")
		fs.Usage()
		return ErrUsage
	}
	if *out == "-" && *csvOut == "-" {
		fmt.Fprintln(std.Stderr, "brokerguard compensate: --out and --csv cannot both be standard output")
		return ErrUsage
	}
	var override *reconstruct.Day
	if *valuationDate != "" {
		d, err := reconstruct.ParseDay(*valuationDate)
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
	if *evidenceDir != "" {
		if err := os.MkdirAll(*evidenceDir, 0o750); err != nil {
			return fmt.Errorf("evidence: %w", err)
		}
	}
	incs, bad, book, err := readIncidentsAndEvents(ctx, *incidents, *events, std)
	if err != nil {
		return err
	}

	// Results and errors go out in the order of the incidents file.
	results := make([]*compensation.Result, 0, len(incs)+len(bad))
	recs := map[*compensation.Result]*reconstruct.Reconstruction{}
	for _, e := range bad {
		results = append(results, compensation.ErrorResult(e))
	}
	computed := 0
	var total money.Yen
	for i := range incs {
		res, rec, err := assess(book, &incs[i], p, override)
		if err != nil {
			res = compensation.ErrorResult(err)
		} else {
			computed++
			total = total.Add(res.Decision.Recommended)
			recs[res] = rec
		}
		results = append(results, res)
	}
	sort.SliceStable(results, func(i, j int) bool { return results[i].Line < results[j].Line })
	for _, res := range results {
		if res.Error != "" {
			fmt.Fprintln(std.Stderr, res.Error)
		}
	}
	if *out != "" {
		if err := writeOutput(*out, std.Stdout, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			for _, res := range results {
				if err := enc.Encode(res); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("out: %w", err)
		}
	}
	if *csvOut != "" {
		if err := writeOutput(*csvOut, std.Stdout, func(w io.Writer) error { return compensation.WriteDecisionsCSV(w, results) }); err != nil {
			return fmt.Errorf("csv: %w", err)
		}
	}
	if *evidenceDir != "" {
		now := time.Now()
		written := 0
		for _, res := range results {
			rec := recs[res]
			if rec == nil {
				continue
			}
			path := filepath.Join(*evidenceDir, evidenceFileName(res))
			ev := &compensation.Evidence{Heading: *heading, Generated: now, Rec: rec, Result: res, Policy: p}
			if err := writeOutput(path, nil, func(w io.Writer) error { return compensation.WriteEvidence(w, ev) }); err != nil {
				return fmt.Errorf("evidence: %w", err)
			}
			written++
		}
		fmt.Fprintf(std.Stderr, "compensate: %d evidence %s in %s\n", written, plural(written, "file", "files"), *evidenceDir)
	}
	failed := len(results) - computed
	fmt.Fprintf(std.Stderr, "compensate: %d %s, %d computed, %d %s; policy %s (%s); recommended in total %s yen\n",
		len(results), plural(len(results), "incident", "incidents"), computed, failed, plural(failed, "error", "errors"),
		p.Name, p.Base, total.Grouped())
	return nil
}

func assess(book *reconstruct.Book, inc *reconstruct.Claim, p *compensation.Policy, override *reconstruct.Day) (*compensation.Result, *reconstruct.Reconstruction, error) {
	rec, ierr := book.Reconstruct(inc)
	if ierr != nil {
		return nil, nil, ierr
	}
	res, err := compensation.Assess(rec, book, p, override)
	return res, rec, err
}

// writeOutput writes a file ("-" is stdout) through a buffer and reports the first error of
// writing, flushing or closing.
func writeOutput(path string, stdout io.Writer, write func(io.Writer) error) error {
	w, closeOut, err := openOutput(path, stdout)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	err = write(bw)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	return err
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// evidenceFileName names an incident's evidence file by its line and its id (or account):
// incident-0007-case-12.html. The line keeps names unique; the rest is reduced to safe characters.
func evidenceFileName(res *compensation.Result) string {
	name := res.ID
	if name == "" {
		name = res.Account
	}
	name = strings.Trim(unsafeName.ReplaceAllString(name, "_"), "._")
	if len(name) > 60 {
		name = name[:60]
	}
	if name == "" {
		return fmt.Sprintf("incident-%04d.html", res.Line)
	}
	return fmt.Sprintf("incident-%04d-%s.html", res.Line, name)
}

func runTally(ctx context.Context, args []string, std IO) error {
	fs := newFlags("tally", "--events FILE --incidents FILE [--format csv|json] [--out FILE] [--vintages DIR [--file-as NAME]]", std)
	events := fs.String("events", "", "event log: JSON Lines, plain or gzip; - for standard input (required)")
	incidents := fs.String("incidents", "", `incidents, one a line: {"account": ..., "orders": [...], "sessions": [...]} (required)`)
	format := fs.String("format", "csv", "csv (with a header row) or json")
	out := fs.String("out", "-", "write the monthly rows here; - for standard output")
	vintages := fs.String("vintages", "", "directory of the tallies as filed (one JSON file per filing); without --file-as, print the current rows beside the figures as last filed and the change")
	fileAs := fs.String("file-as", "", "save the rows as filed under this name (e.g. 2025-05) in --vintages; an existing filing is never overwritten")
	flagsUsage := fs.Usage
	fs.Usage = func() {
		flagsUsage()
		fmt.Fprintln(fs.Output(), "\nColumns (CSV header and JSON keys; one row per month of occurrence):")
		for _, c := range report.TallyColumns {
			fmt.Fprintf(fs.Output(), "  %s\n    \t%s\n", c.Name, c.Description)
		}
		fmt.Fprintln(fs.Output(), "  The JSON rows also carry sold_yen_exact and bought_yen_exact (before rounding) and counting ("+report.TallyCounting+");")
		fmt.Fprintln(fs.Output(), "  with --vintages, recounted marks a month filed under an earlier way of counting.")
	}
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
	if *fileAs != "" {
		if *vintages == "" {
			fmt.Fprintln(std.Stderr, "brokerguard tally: --file-as needs --vintages DIR, where the filing is kept")
			return ErrUsage
		}
		if err := report.ValidFiling(*fileAs); err != nil {
			fmt.Fprintf(std.Stderr, "brokerguard tally: --file-as: %v\n", err)
			return ErrUsage
		}
	}
	filings := report.DirVintages{Dir: *vintages}
	var filed []report.Vintage
	if *vintages != "" && *fileAs == "" {
		var err error
		if filed, err = filings.List(); err != nil {
			return err
		}
	}
	incs, bad, book, err := readIncidentsAndEvents(ctx, *incidents, *events, std)
	if err != nil {
		return err
	}
	var recs []*reconstruct.Reconstruction
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
	rows := report.Tally(recs)
	if *fileAs != "" {
		if failed > 0 {
			return fmt.Errorf("tally: %d %s could not be counted (see above); nothing filed: a filing must count every incident",
				failed, plural(failed, "incident", "incidents"))
		}
		v := &report.Vintage{Filing: *fileAs, FiledAt: time.Now().In(reconstruct.JST).Truncate(time.Second), Incidents: len(recs), Rows: rows}
		if err := filings.Save(v); err != nil {
			return err
		}
		fmt.Fprintf(std.Stderr, "tally: filed as %s in %s (%d %s)\n", *fileAs, filepath.Join(*vintages, *fileAs+".json"),
			len(rows), plural(len(rows), "month", "months"))
	}
	var write func(w io.Writer) error
	switch {
	case *vintages != "" && *fileAs == "":
		revs := report.Revise(rows, filed)
		if len(filed) == 0 {
			fmt.Fprintf(std.Stderr, "tally: no filing in %s yet: every figure is new\n", *vintages)
		}
		revised := 0
		for _, r := range revs {
			if r.Revised {
				revised++
			}
		}
		fmt.Fprintf(std.Stderr, "tally: %d %s filed, %d %s revised since\n", len(filed), plural(len(filed), "filing", "filings"),
			revised, plural(revised, "month", "months"))
		if *format == "json" {
			write = func(w io.Writer) error { return writeJSONReport(w, revs) }
		} else {
			write = func(w io.Writer) error { return report.WriteRevisionsCSV(w, revs) }
		}
	case *format == "json":
		write = func(w io.Writer) error { return writeJSONReport(w, rows) }
	default:
		write = func(w io.Writer) error { return report.WriteTallyCSV(w, rows) }
	}
	if err := writeOutput(*out, std.Stdout, write); err != nil {
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
func loadPolicy(nameOrFile string) (*compensation.Policy, error) {
	if p, ok := compensation.Builtin(nameOrFile); ok {
		return p, nil
	}
	if _, err := os.Stat(nameOrFile); err != nil && !strings.ContainsAny(nameOrFile, `/\.`) {
		return nil, fmt.Errorf("policy %q: not a built-in policy (%s) nor a file", nameOrFile, strings.Join(compensation.Builtins(), ", "))
	}
	return compensation.LoadPolicy(nameOrFile)
}

// readIncidentsAndEvents reads the incidents, then the event log once for them. Bad event lines are
// reported on stderr (the first few) and counted; they do not stop the run.
func readIncidentsAndEvents(ctx context.Context, incidentsFile, eventsFile string, std IO) ([]reconstruct.Claim, []*reconstruct.ClaimError, *reconstruct.Book, error) {
	f, err := os.Open(incidentsFile)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("incidents: %w", err)
	}
	incs, bad, err := reconstruct.ReadIncidents(f)
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
	book, err := reconstruct.Collect(ctx, in, incs)
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
