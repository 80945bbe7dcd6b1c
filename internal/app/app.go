// Package app is brokerguard's composition root: it parses the command line and the configuration,
// builds the engine, the store, the IP intelligence and the server by hand, and runs one subcommand.
// Nothing else in brokerguard reads flags, the environment or global state.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
)

// IO is the process's standard streams and environment, passed in so that tests run commands in-process.
type IO struct {
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Environ []string
}

// ErrUsage reports a command line that could not be parsed; the usage has been printed.
var ErrUsage = errors.New("usage")

// ExitCode maps an error from Run to a process exit status.
func ExitCode(err error) int {
	if errors.Is(err, ErrUsage) {
		return 2
	}
	return 1
}

type command struct {
	summary string
	run     func(ctx context.Context, args []string, std IO) error
}

func commands() map[string]command {
	return map[string]command{
		"replay":     {"decide on a time-ordered event log (JSON Lines, plain or gzip)", runReplay},
		"serve":      {"run the HTTP API: ingest events, return decisions, serve alerts and metrics", runServe},
		"rules":      {"check a rules file, or run rule tests: rules check FILE | rules test FILE…", runRules},
		"bench":      {"measure replay throughput, decision latency and HTTP latency on synthetic events", runBench},
		"simulate":   {"write a simulated brokerage's event log and its ground truth", runSimulate},
		"evaluate":   {"score decisions and alerts against a simulation's ground truth", runEvaluate},
		"sweep":      {"simulate, decide and evaluate scenarios over many seeds: median and worst case per measure", runSweep},
		"demo":       {"simulate a firm under attack, decide on it, print what was caught, and serve it", runDemo},
		"compensate": {"value unauthorized trading per incident and apply a compensation policy", runCompensate},
		"tally":      {"the regulator's monthly tally of unauthorized accesses and trades", runTally},
		"backfill":   {"re-run detection over history and propose incidents for takeovers never reported", runBackfill},
		"fit":        {"fit the scoring model's weights on simulated firms (varied), for --model", runFit},
		"version":    {"print brokerguard's version, commit and Go version", runVersion},
		"db":         {"what the store holds (db stats), and its retention applied (db compact)", runDB},
		"phishing":   {"names that imitate the firm's domains and brands: phishing check NAME…", runPhishing},
		"audit":      {"the analyst audit trail: audit verify (the hash chain) | audit list", runAudit},
		"key":        {"API keys in the store: key add --role ROLE --name NAME | key list | key revoke NAME", runKey},
		"user":       {"console users: user add --name NAME --role ROLE | user passwd NAME | user disable NAME | user list", runUser},
	}
}

// Run runs one brokerguard subcommand.
func Run(ctx context.Context, args []string, std IO) error {
	cmds := commands()
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-version") {
		args = []string{"version"}
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := cmds[args[1]]; ok {
				return c.run(ctx, []string{"--help"}, std)
			}
		}
		usage(std.Stdout, cmds)
		if len(args) == 0 {
			return ErrUsage
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(std.Stderr, "brokerguard: unknown command %q\n\n", args[0])
		usage(std.Stderr, cmds)
		return ErrUsage
	}
	return c.run(ctx, args[1:], std)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "brokerguard stops account takeover and unauthorized trading at online securities firms.")
	fmt.Fprintln(w, "\nUsage: brokerguard COMMAND [flags]   (brokerguard COMMAND --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
}

// newFlags returns a flag set that prints its usage to std.Stderr (std.Stdout for --help).
func newFlags(name, synopsis string, std IO) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(std.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: brokerguard %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; --help prints the usage to stdout and returns errHelp.
func parse(fs *flag.FlagSet, args []string, std IO) error {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(std.Stdout)
			fs.Usage()
			return errHelp
		}
		if a == "--" {
			break
		}
	}
	if err := fs.Parse(args); err != nil {
		return ErrUsage
	}
	return nil
}

var errHelp = errors.New("help")

func helpOK(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// openOutput opens a file for writing ("-" is stdout, "" is none).
func openOutput(path string, stdout io.Writer) (io.Writer, func() error, error) {
	switch path {
	case "":
		return nil, func() error { return nil }, nil
	case "-":
		return stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return strings.TrimSpace(many)
}

// getenv looks a variable up in the environment the command was given.
func getenv(environ []string, key string) string {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// batchGC makes the garbage collector run less often in batch commands (replay, bench, demo), unless
// the user set GOGC: their heap is mostly long-lived profiles, and collecting at every doubling of the
// heap costs replay a tenth of its throughput (brokerguard bench: 196k events/s at GOGC=100, 207k at 400).
func batchGC(environ []string) {
	for _, kv := range environ {
		if strings.HasPrefix(kv, "GOGC=") {
			return
		}
	}
	debug.SetGCPercent(400)
}

// startCPUProfile writes a CPU profile to path until the returned stop is called ("" profiles nothing).
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func writeJSONReport(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runSubcommand runs one subcommand of a command that has them (key add, db stats): args[0] names it;
// none, an unknown one or help prints usage.
func runSubcommand(ctx context.Context, name string, args []string, std IO,
	subs map[string]func(context.Context, []string, IO) error, usage func(io.Writer)) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	if run, ok := subs[sub]; ok {
		return run(ctx, args, std)
	}
	switch sub {
	case "-h", "--help", "-help", "help":
		usage(std.Stdout)
		return nil
	case "":
	default:
		fmt.Fprintf(std.Stderr, "brokerguard %s: unknown subcommand %q\n\n", name, sub)
	}
	usage(std.Stderr)
	return ErrUsage
}
