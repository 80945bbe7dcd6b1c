package app

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/brokerguard/brokerguard/internal/store"
)

// runAudit reads and verifies the analyst audit trail.
func runAudit(ctx context.Context, args []string, std IO) error {
	return runSubcommand(ctx, "audit", args, std, map[string]func(context.Context, []string, IO) error{
		"verify": runAuditVerify, "list": runAuditList}, auditUsage)
}

func auditUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: brokerguard audit verify [--head HASH] [--json] [store flags]
       brokerguard audit list [--target T] [--action A] [--after SEQ] [--limit N] [--json] [store flags]

Every staff action is written to the audit trail before it applies, and each entry is chained to
the one before it by SHA-256. verify reads the whole trail and reports the first entry that was
edited, removed, moved or written around the chain; it exits with status 1 when it finds one.
Entries removed from the end leave a shorter chain that still holds: keep the head that verify
prints somewhere else (a ticket, a log server) and pass it as --head to check that nothing after
it was removed. list prints entries, oldest first, with their hashes.
Store flags: --config FILE, --data-dir DIR, --db URL|FILE.db (the store of serve with the same flags).
`)
}

// ErrAuditBroken is returned by audit verify for a trail that does not hold.
var ErrAuditBroken = errors.New("audit trail broken")

func runAuditVerify(ctx context.Context, args []string, std IO) error {
	var (
		c      common
		asJSON bool
	)
	fs := dbFlags("verify", "[flags]", std, &c, &asJSON)
	head := fs.String("head", "", "the head hash (hex) printed by an earlier verify: the trail must reach it")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return ErrUsage
	}
	*head = strings.ToLower(strings.TrimSpace(*head))
	if *head != "" {
		if b, err := hex.DecodeString(*head); err != nil || len(b) != 32 {
			return fmt.Errorf("audit verify: --head %q is not a SHA-256 hash (64 hex digits)", *head)
		}
	}
	cfg, err := loadConfig(fs, &c, std.Environ)
	if err != nil {
		return err
	}
	st, _, where, err := openExistingStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := store.VerifyAudit(ctx, st, *head)
	if err != nil {
		return err
	}
	if asJSON {
		if err := writeJSONReport(std.Stdout, struct {
			Store string `json:"store"`
			store.AuditVerification
		}{where, v}); err != nil {
			return err
		}
	} else if v.Break == nil {
		fmt.Fprintf(std.Stdout, "audit trail of %s: %d entries, intact\nhead: %s\n", where, v.Entries, orNone(v.Head))
	}
	if v.Break != nil {
		return fmt.Errorf("%w: %s (%d entries before it hold, ending at head %s)", ErrAuditBroken, v.Break.Detail, v.Entries, orNone(v.Head))
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func runAuditList(ctx context.Context, args []string, std IO) error {
	var (
		c      common
		asJSON bool
	)
	fs := dbFlags("list", "[flags]", std, &c, &asJSON)
	target := fs.String("target", "", "only entries of this target (account:A123, symbol:1556, incident:…)")
	action := fs.String("action", "", "only this action, or a prefix ending in a dot (watchlist.)")
	after := fs.Int64("after", 0, "only entries after this sequence number")
	limit := fs.Int("limit", 100, "at most this many entries")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 || *limit <= 0 {
		fs.Usage()
		return ErrUsage
	}
	cfg, err := loadConfig(fs, &c, std.Environ)
	if err != nil {
		return err
	}
	st, _, _, err := openExistingStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer st.Close()
	recs, err := st.Audit(ctx, store.AuditQuery{Target: *target, Action: *action, After: *after, Limit: *limit})
	if err != nil {
		return err
	}
	if asJSON {
		type entry struct {
			store.AuditRecord
			Hash string `json:"hash"`
		}
		out := make([]entry, len(recs))
		for i, r := range recs {
			out[i] = entry{r, hex.EncodeToString(r.Hash)}
		}
		return writeJSONReport(std.Stdout, out)
	}
	tw := tabwriter.NewWriter(std.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tTARGET\tREASON\tHASH\t")
	for _, r := range recs {
		h := hex.EncodeToString(r.Hash)
		if len(h) > 12 {
			h = h[:12]
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Seq, r.Time.Format(time.RFC3339), r.Actor, r.Action, r.Target, r.Reason, h)
	}
	return tw.Flush()
}
