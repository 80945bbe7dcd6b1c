package app

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/brokerguard/brokerguard/internal/store"
)

// runAudit checks the audit trail's hash chain.
func runAudit(ctx context.Context, args []string, std IO) error {
	return runSubcommand(ctx, "audit", args, std, map[string]func(context.Context, []string, IO) error{
		"verify": runAuditVerify}, auditUsage)
}

func auditUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: brokerguard audit verify [store flags]

Walks the audit trail (every analyst, supervisor and command-line action) and checks its hash chain:
each entry holds SHA-256 over the previous entry's hash and its own contents. Reports the first entry
that was edited, deleted, moved or stripped of its hash, and exits 1; otherwise prints the number of
entries and the hash of the last one (note it elsewhere: a deletion at the very end shows only against
it). Store flags: --config FILE, --data-dir DIR, --db URL|FILE.db (the store of serve with the same flags).
`)
}

func runAuditVerify(ctx context.Context, args []string, std IO) error {
	var c common
	fs := newFlags("audit verify", "[flags]", std)
	fs.StringVar(&c.config, "config", "", "configuration file (YAML); see brokerguard.example.yaml")
	fs.StringVar(&c.dataDir, "data-dir", "", "data directory of the embedded database (default brokerguard-data)")
	fs.StringVar(&c.db, "db", "", "store: postgres://… URL, or a SQLite file path ending in .db (default: SQLite in the data directory)")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return ErrUsage
	}
	st, where, err := openKeyStore(ctx, fs, &c, std)
	if err != nil {
		return err
	}
	defer st.Close()
	chain, ok := st.(store.AuditChain)
	if !ok {
		return fmt.Errorf("audit verify: the store %s keeps no hash chain", where)
	}
	v, err := store.VerifyAudit(ctx, chain)
	if err != nil {
		return err
	}
	if v.Broken != 0 {
		return fmt.Errorf("audit verify: the audit trail of %s is broken at entry %d: %s", where, v.Broken, v.Problem)
	}
	fmt.Fprintf(std.Stdout, "audit trail of %s: %d entries, the chain intact", where, v.Entries)
	if v.Unhashed > 0 {
		fmt.Fprintf(std.Stdout, " (the first %d written before the chain existed)", v.Unhashed)
	}
	if v.Head != nil {
		fmt.Fprintf(std.Stdout, "; last hash %s", hex.EncodeToString(v.Head))
	}
	fmt.Fprintln(std.Stdout)
	return nil
}
