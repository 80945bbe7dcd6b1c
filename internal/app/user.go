package app

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/audit"

	"golang.org/x/term"

	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/console"
	"github.com/brokerguard/brokerguard/internal/store"
)

// The console's staff roles: the API's roles of people (read and ingest are for machines).
var staffRoles = []string{config.RoleAnalyst, config.RoleSupervisor, config.RoleAdmin}

// Audit actions of the staff accounts.
const (
	actionUserAdd     = audit.ActionUserAdd
	actionUserPasswd  = audit.ActionUserPasswd
	actionUserDisable = audit.ActionUserDisable
	actionUserEnable  = audit.ActionUserEnable
)

// runUser adds console users, sets their passwords and disables them.
func runUser(ctx context.Context, args []string, std IO) error {
	return runSubcommand(ctx, "user", args, std, map[string]func(context.Context, []string, IO) error{
		"add": runUserAdd, "passwd": runUserPasswd, "disable": runUserDisable, "enable": runUserEnable, "list": runUserList}, userUsage)
}

func userUsage(w io.Writer) {
	fmt.Fprintf(w, `Usage: brokerguard user add --name NAME --role ROLE [--password-file FILE] [store flags]
       brokerguard user passwd NAME [--password-file FILE] [store flags]
       brokerguard user disable NAME | enable NAME [store flags]
       brokerguard user list [store flags]

People who sign in to the analyst console (serve's http://ADDRESS/). The password is read from
--password-file, or else from standard input (asked twice on a terminal); it is never a flag, which
others could read in the process list. At least %d characters; only its argon2id hash is stored.
passwd and disable end the user's console sessions. Roles: %s.
Store flags: --config FILE, --data-dir DIR, --db URL|FILE.db (the store of serve with the same flags).
`, console.MinPasswordLen, strings.Join(staffRoles, ", "))
}

// userFlags are the flags of a user subcommand: those that name the store.
func userFlags(name, synopsis string, std IO, c *common) *flag.FlagSet {
	fs := newFlags("user "+name, synopsis, std)
	fs.StringVar(&c.config, "config", "", "configuration file (YAML); see brokerguard.example.yaml")
	fs.StringVar(&c.dataDir, "data-dir", "", "data directory of the embedded database (default brokerguard-data)")
	fs.StringVar(&c.db, "db", "", "store: postgres://… URL, or a SQLite file path ending in .db (default: SQLite in the data directory)")
	return fs
}

// wantsHelp reports whether args ask for help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			return true
		}
	}
	return false
}

func staffOf(st store.Store) (store.Staff, error) {
	s, ok := st.(store.Staff)
	if !ok {
		return nil, fmt.Errorf("this store (%T) keeps no console users", st)
	}
	return s, nil
}

// readPassword reads a new password from the file, or else from standard input: on a terminal it is
// asked twice without echo, otherwise the first line is taken.
func readPassword(file string, std IO) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return "", fmt.Errorf("--password-file %s: empty", file)
		}
		return pw, console.CheckNewPassword(pw)
	}
	if f, ok := std.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(std.Stderr, "New password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(std.Stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(std.Stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(std.Stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the two passwords differ")
		}
		return string(a), console.CheckNewPassword(string(a))
	}
	if std.Stdin == nil {
		return "", errors.New("no password: give --password-file FILE or the password on standard input")
	}
	line, err := bufio.NewReader(io.LimitReader(std.Stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password: give --password-file FILE or the password on standard input")
	}
	return pw, console.CheckNewPassword(pw)
}

func checkStaffRole(role string) error {
	for _, r := range staffRoles {
		if role == r {
			return nil
		}
	}
	return fmt.Errorf("user add: --role %q: want one of %s", role, strings.Join(staffRoles, ", "))
}

func checkUserName(name string) error {
	if name == "" {
		return errors.New("user: a name is required")
	}
	if err := checkKeyName(name); err != nil {
		return errors.New(strings.Replace(strings.Replace(err.Error(), "key add: --name", "user: name", 1), "key", "user", 1))
	}
	return nil
}

// auditUser records a change of a console user in the audit trail, as an action of the command line.
func auditUser(ctx context.Context, st store.Store, action, name string, data map[string]string, now time.Time) error {
	return auditCommandLine(ctx, st, action, "user:"+name, "brokerguard user, from the command line", data, now)
}

// addUser stores a new console user with the hash of password, and audits it.
func addUser(ctx context.Context, st store.Store, name, role, password string, now time.Time) error {
	staff, err := staffOf(st)
	if err != nil {
		return err
	}
	hash := console.NoPassword // signs in through the identity provider only
	if password != "" {
		if hash, err = console.HashPassword(password); err != nil {
			return err
		}
	}
	err = staff.AddUser(ctx, store.StaffUser{Name: name, Role: role, Password: hash, Created: now.UTC()})
	if errors.Is(err, store.ErrExists) {
		return fmt.Errorf("user add: a user named %q exists already (brokerguard user passwd %s sets a new password)", name, name)
	}
	if err != nil {
		return err
	}
	return auditUser(ctx, st, actionUserAdd, name, map[string]string{"role": role}, now)
}

func runUserAdd(ctx context.Context, args []string, std IO) error {
	var c common
	fs := userFlags("add", "--name NAME --role ROLE [--password-file FILE] [flags]", std, &c)
	name := fs.String("name", "", "the user's sign-in name, unique in the store (required)")
	role := fs.String("role", "", "the user's role: "+strings.Join(staffRoles, " | ")+" (required)")
	pwFile := fs.String("password-file", "", "read the password from this file (default: standard input)")
	noPassword := fs.Bool("no-password", false, "the user signs in only through the identity provider (oidc: in the configuration)")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if *name == "" || *role == "" || fs.NArg() > 0 {
		fmt.Fprintln(std.Stderr, "brokerguard user add: --name and --role are required, and nothing else (the password comes from --password-file or standard input)")
		fs.Usage()
		return ErrUsage
	}
	if err := checkUserName(*name); err != nil {
		return err
	}
	if err := checkStaffRole(*role); err != nil {
		return err
	}
	var (
		pw  string
		err error
	)
	if *noPassword {
		if *pwFile != "" {
			return errors.New("user add: --no-password and --password-file: choose one")
		}
	} else if pw, err = readPassword(*pwFile, std); err != nil {
		return fmt.Errorf("user add: %w", err)
	}
	st, where, err := openKeyStore(ctx, fs, &c, std)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := addUser(ctx, st, *name, *role, pw, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(std.Stderr, "user %q (role %s) added to %s; they sign in to the console at serve's address.\n", *name, *role, where)
	return nil
}

// userNameArg parses flags then one NAME argument, in either order.
func userNameArg(fs *flag.FlagSet, args []string) (string, bool) {
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	if name == "" && fs.NArg() == 1 {
		return fs.Arg(0), true
	}
	return name, name != "" && fs.NArg() == 0
}

func runUserPasswd(ctx context.Context, args []string, std IO) error {
	var c common
	fs := userFlags("passwd", "NAME [--password-file FILE] [flags]", std, &c)
	pwFile := fs.String("password-file", "", "read the new password from this file (default: standard input)")
	if wantsHelp(args) {
		return helpOK(parse(fs, args, std))
	}
	name, ok := userNameArg(fs, args)
	if !ok {
		fmt.Fprintln(std.Stderr, "brokerguard user passwd: name one user")
		fs.Usage()
		return ErrUsage
	}
	pw, err := readPassword(*pwFile, std)
	if err != nil {
		return fmt.Errorf("user passwd: %w", err)
	}
	hash, err := console.HashPassword(pw)
	if err != nil {
		return err
	}
	st, where, err := openKeyStore(ctx, fs, &c, std)
	if err != nil {
		return err
	}
	defer st.Close()
	staff, err := staffOf(st)
	if err != nil {
		return err
	}
	now := time.Now()
	if err := staff.SetPassword(ctx, name, hash, now.UTC()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("user passwd: no user named %q in %s (brokerguard user list)", name, where)
		}
		return err
	}
	if err := auditUser(ctx, st, actionUserPasswd, name, nil, now); err != nil {
		return err
	}
	fmt.Fprintf(std.Stderr, "user %q: new password set in %s; their console sessions are ended.\n", name, where)
	return nil
}

func runUserDisable(ctx context.Context, args []string, std IO) error {
	return setUserDisabled(ctx, args, std, true)
}
func runUserEnable(ctx context.Context, args []string, std IO) error {
	return setUserDisabled(ctx, args, std, false)
}

func setUserDisabled(ctx context.Context, args []string, std IO, disabled bool) error {
	verb, action := "enable", actionUserEnable
	if disabled {
		verb, action = "disable", actionUserDisable
	}
	var c common
	fs := userFlags(verb, "NAME [flags]", std, &c)
	if wantsHelp(args) {
		return helpOK(parse(fs, args, std))
	}
	name, ok := userNameArg(fs, args)
	if !ok {
		fmt.Fprintf(std.Stderr, "brokerguard user %s: name one user\n", verb)
		fs.Usage()
		return ErrUsage
	}
	st, where, err := openKeyStore(ctx, fs, &c, std)
	if err != nil {
		return err
	}
	defer st.Close()
	staff, err := staffOf(st)
	if err != nil {
		return err
	}
	now := time.Now()
	if err := staff.SetDisabled(ctx, name, disabled, now.UTC()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("user %s: no user named %q in %s (brokerguard user list)", verb, name, where)
		}
		return err
	}
	if err := auditUser(ctx, st, action, name, nil, now); err != nil {
		return err
	}
	if disabled {
		fmt.Fprintf(std.Stderr, "user %q disabled in %s; their console sessions are ended.\n", name, where)
	} else {
		fmt.Fprintf(std.Stderr, "user %q enabled in %s.\n", name, where)
	}
	return nil
}

func runUserList(ctx context.Context, args []string, std IO) error {
	var c common
	fs := userFlags("list", "[flags]", std, &c)
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
	staff, err := staffOf(st)
	if err != nil {
		return err
	}
	us, err := staff.Users(ctx)
	if err != nil {
		return err
	}
	if len(us) == 0 {
		fmt.Fprintf(std.Stderr, "no console users in %s (brokerguard user add --name NAME --role ROLE adds one)\n", where)
		return nil
	}
	fmt.Fprintf(std.Stdout, "%-24s %-11s %-9s %s\n", "NAME", "ROLE", "STATE", "CREATED")
	for _, u := range us {
		state := "active"
		if u.Disabled {
			state = "disabled"
		} else if u.LockedUntil.After(time.Now()) {
			state = "locked"
		}
		fmt.Fprintf(std.Stdout, "%-24s %-11s %-9s %s\n", u.Name, u.Role, state, u.Created.Format(time.RFC3339))
	}
	return nil
}
