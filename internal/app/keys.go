package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/httpapi"
	"github.com/brokerguard/brokerguard/internal/store"
)

// keyPrefix starts every secret that brokerguard issues, so that one found in a log, a ticket or a
// repository is recognised for what it is.
const keyPrefix = "bg_"

var roles = []string{config.RoleRead, config.RoleIngest, config.RoleAnalyst, config.RoleSupervisor, config.RoleAdmin}

// runKey issues, lists and revokes the API keys kept in the store.
func runKey(ctx context.Context, args []string, std IO) error {
	return runSubcommand(ctx, "key", args, std, map[string]func(context.Context, []string, IO) error{
		"add": runKeyAdd, "list": runKeyList, "revoke": runKeyRevoke}, keyUsage)
}

func keyUsage(w io.Writer) {
	fmt.Fprintf(w, `Usage: brokerguard key add --role ROLE --name NAME [--out FILE] [store flags]
       brokerguard key list [store flags]
       brokerguard key revoke NAME [store flags]

API keys kept in the store, which serve accepts beside the configured api_keys. add prints the new
secret once (only its SHA-256 is stored); revoke takes effect in a running server within seconds.
Roles: %s. Store flags: --config FILE, --data-dir DIR, --db URL|FILE.db
(the store of serve with the same flags).
`, strings.Join(roles, ", "))
}

// keyFlags are the flags that name the store.
func keyFlags(name, synopsis string, std IO, c *common) *flag.FlagSet {
	fs := newFlags("key "+name, synopsis, std)
	fs.StringVar(&c.config, "config", "", "configuration file (YAML); see brokerguard.example.yaml")
	fs.StringVar(&c.dataDir, "data-dir", "", "data directory of the embedded database (default brokerguard-data)")
	fs.StringVar(&c.db, "db", "", "store: postgres://… URL, or a SQLite file path ending in .db (default: SQLite in the data directory)")
	return fs
}

// openKeyStore loads the configuration the flags name and opens its store, as a guest: keys are issued
// and revoked while a server holds the store.
func openKeyStore(ctx context.Context, fs *flag.FlagSet, c *common, std IO) (store.Store, string, error) {
	cfg, err := loadConfig(fs, c, std.Environ)
	if err != nil {
		return nil, "", err
	}
	return openStoreAs(ctx, cfg, true)
}

func runKeyAdd(ctx context.Context, args []string, std IO) error {
	var c common
	fs := keyFlags("add", "--role ROLE --name NAME [flags]", std, &c)
	role := fs.String("role", "", "the key's role: "+strings.Join(roles, " | ")+" (required)")
	name := fs.String("name", "", "a name for the key, unique in the store: who or what uses it (required)")
	out := fs.String("out", "", "write the secret to this new file (mode 0600) instead of standard output")
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if *role == "" || *name == "" || fs.NArg() > 0 {
		fmt.Fprintln(std.Stderr, "brokerguard key add: --role and --name are required, and nothing else")
		fs.Usage()
		return ErrUsage
	}
	if err := checkKeyName(*name); err != nil {
		return err
	}
	if err := checkRole(*role); err != nil {
		return err
	}
	st, where, err := openKeyStore(ctx, fs, &c, std)
	if err != nil {
		return err
	}
	defer st.Close()
	if *out != "" {
		// Refuse an existing file before the key exists: a key whose secret went nowhere is useless.
		if _, err := os.Lstat(*out); err == nil {
			return fmt.Errorf("key add: --out %s exists; name a new file", *out)
		}
	}
	secret, err := addKey(ctx, st, *name, *role, time.Now())
	if err != nil {
		return err
	}
	if *out != "" {
		if err := writeSecretFile(*out, secret); err != nil {
			return fmt.Errorf("key add: the key %q is stored, but its secret could not be written (revoke it): %w", *name, err)
		}
		fmt.Fprintf(std.Stderr, "key %q (role %s) added to %s; its secret is in %s (mode 0600), and only its SHA-256 is stored.\n",
			*name, *role, where, *out)
		return nil
	}
	fmt.Fprintln(std.Stdout, secret)
	fmt.Fprintf(std.Stderr, "key %q (role %s) added to %s. Its secret, above, is shown this once: only its SHA-256 is stored.\n"+
		"Send it in the header Authorization: Bearer SECRET.\n", *name, *role, where)
	return nil
}

func runKeyList(ctx context.Context, args []string, std IO) error {
	var c common
	fs := keyFlags("list", "[flags]", std, &c)
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
	ks, err := st.Keys(ctx)
	if err != nil {
		return err
	}
	if len(ks) == 0 {
		fmt.Fprintf(std.Stderr, "no keys in %s (brokerguard key add --role ROLE --name NAME adds one)\n", where)
		return nil
	}
	tw := tabwriter.NewWriter(std.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tREVOKED")
	for _, k := range ks {
		revoked := "-"
		if !k.Revoked.IsZero() {
			revoked = k.Revoked.Local().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Name, k.Role, k.Created.Local().Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}

func runKeyRevoke(ctx context.Context, args []string, std IO) error {
	var c common
	fs := keyFlags("revoke", "NAME [flags]", std, &c)
	// The name may come before the flags (key revoke NAME --data-dir D).
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := parse(fs, args, std); err != nil {
		return helpOK(err)
	}
	if name == "" && fs.NArg() == 1 {
		name = fs.Arg(0)
	} else if fs.NArg() > 0 || name == "" {
		fmt.Fprintln(std.Stderr, "brokerguard key revoke: name one key")
		fs.Usage()
		return ErrUsage
	}
	st, where, err := openKeyStore(ctx, fs, &c, std)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	k, err := st.RevokeKey(ctx, name, now)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("key revoke: no key named %q in %s (brokerguard key list shows them)", name, where)
	}
	if err != nil {
		return err
	}
	if !k.Revoked.Equal(now) {
		fmt.Fprintf(std.Stdout, "key %q was revoked already, at %s\n", name, k.Revoked.Local().Format(time.RFC3339))
		return nil
	}
	if err := auditKey(ctx, st, audit.ActionKeyRevoke, name, k.Role, now); err != nil {
		return fmt.Errorf("key revoke: the key %q is revoked, but its audit record is not: %w", name, err)
	}
	fmt.Fprintf(std.Stdout, "key %q (role %s) revoked; a running server refuses it within %s\n", name, k.Role, keyCacheFor)
	return nil
}

func checkRole(role string) error {
	for _, r := range roles {
		if role == r {
			return nil
		}
	}
	return fmt.Errorf("key add: --role %q: want one of %s", role, strings.Join(roles, ", "))
}

func checkKeyName(name string) error {
	if len(name) > 64 {
		return fmt.Errorf("key add: --name %q: at most 64 characters", name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return fmt.Errorf("key add: --name %q: letters, digits and punctuation only, no spaces", name)
		}
	}
	return nil
}

// newSecret returns a new API key secret: the prefix and 32 random bytes in unpadded base64url.
func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return keyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// addKey issues a key: it stores the hash of a new secret under name and returns the secret.
func addKey(ctx context.Context, st store.Store, name, role string, now time.Time) (string, error) {
	secret, err := newSecret()
	if err != nil {
		return "", err
	}
	err = st.AddKey(ctx, store.APIKey{Name: name, Role: role, Hash: sha256.Sum256([]byte(secret)), Created: now})
	if errors.Is(err, store.ErrExists) {
		return "", fmt.Errorf("key add: a key named %q exists already (revoked keys keep their names); choose another name", name)
	}
	if err != nil {
		return "", err
	}
	if err := auditKey(ctx, st, audit.ActionKeyAdd, name, role, now); err != nil {
		return "", fmt.Errorf("key add: the key %q is stored, but its audit record is not (revoke it): %w", name, err)
	}
	return secret, nil
}

// auditKey records a key's issue or revocation in the store's audit trail.
func auditKey(ctx context.Context, st store.Store, action, name, role string, now time.Time) error {
	return auditCommandLine(ctx, st, action, "key:"+name, "brokerguard key, from the command line", map[string]string{"role": role}, now)
}

// auditCommandLine records an action of the command line (brokerguard key, brokerguard user) in the
// store's audit trail, at the data time of the store's latest event.
func auditCommandLine(ctx context.Context, st store.Store, action, target, reason string, data any, now time.Time) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	r := &store.AuditRecord{Time: now.UTC(), Actor: keyActor, Action: action, Target: target, Reason: reason, Data: b}
	if ext, err := st.Extent(ctx); err == nil && !ext.Last.IsZero() {
		r.DataTime = ext.Last.UTC()
	}
	return st.AppendAudit(ctx, r)
}

// keyActor is the audit trail's name for whoever runs brokerguard key: the command line has no API key
// of its own, and its access is the store's (the database file or server credentials).
const keyActor = "command-line"

// writeSecretFile writes a secret to a new file that only its owner may read; an existing file is
// replaced, never reused with its permissions.
func writeSecretFile(path, secret string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// keyCacheFor is how long the ring remembers what the store said of a hash: a key revoked with
// brokerguard key revoke is refused by a running server at most this long after.
const keyCacheFor = 5 * time.Second

// keyCacheSize bounds the remembered hashes; unknown secrets sent at random cannot grow it further.
const keyCacheSize = 4096

// keyRing checks the configured (or generated) keys, then the keys issued into the store.
type keyRing struct {
	static httpapi.StaticKeys
	store  interface {
		KeyByHash(ctx context.Context, hash [32]byte) (store.APIKey, error)
	}
	now func() time.Time

	mu    sync.Mutex
	cache map[[32]byte]cachedKey
}

type cachedKey struct {
	key   httpapi.Key
	found bool
	until time.Time
}

var _ httpapi.KeyRing = (*keyRing)(nil)

// newKeyRing returns the ring of the static keys and of the keys in st (none when st is nil).
func newKeyRing(static []httpapi.Key, st store.Store, now func() time.Time) *keyRing {
	r := &keyRing{static: static, now: now, cache: map[[32]byte]cachedKey{}}
	if st != nil {
		r.store = st
	}
	return r
}

// Lookup returns the key whose secret hashes to hash. The static keys are compared in constant time;
// the store's answers are remembered for keyCacheFor.
func (r *keyRing) Lookup(ctx context.Context, hash [32]byte) (httpapi.Key, bool, error) {
	if k, ok, _ := r.static.Lookup(ctx, hash); ok {
		return k, true, nil
	}
	if r.store == nil {
		return httpapi.Key{}, false, nil
	}
	now := r.now()
	r.mu.Lock()
	c, ok := r.cache[hash]
	r.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.key, c.found, nil
	}
	k, err := r.store.KeyByHash(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c = cachedKey{}
	case err != nil:
		return httpapi.Key{}, false, err
	default:
		c = cachedKey{key: httpapi.Key{Name: k.Name, Role: k.Role, Hash: k.Hash}, found: k.Revoked.IsZero()}
	}
	if !c.found {
		c.key = httpapi.Key{}
	}
	c.until = now.Add(keyCacheFor)
	r.mu.Lock()
	if len(r.cache) >= keyCacheSize {
		clear(r.cache)
	}
	r.cache[hash] = c
	r.mu.Unlock()
	return c.key, c.found, nil
}

// demoKey is a key that demo issues, with the file that holds its secret.
type demoKey struct {
	env, role, path, use string
}

// issueDemoKeys issues an analyst's and a supervisor's key into the demo's store, so that an incident
// can be assessed by one person and approved by another, and writes their secrets into dir.
func issueDemoKeys(ctx context.Context, st store.Store, dir string, now time.Time) ([]demoKey, error) {
	keys := []demoKey{
		{"ANALYST_KEY", config.RoleAnalyst, filepath.Join(dir, "analyst-key"), "edits and assesses incidents"},
		{"SUPERVISOR_KEY", config.RoleSupervisor, filepath.Join(dir, "supervisor-key"), "approves what an analyst assessed"},
	}
	for _, k := range keys {
		secret, err := addKey(ctx, st, "demo-"+k.role, k.role, now)
		if err != nil {
			return nil, err
		}
		if err := writeSecretFile(k.path, secret); err != nil {
			return nil, fmt.Errorf("demo %s key: %w", k.role, err)
		}
	}
	return keys, nil
}

// printKeys shows how to use each key file in a shell.
func printKeys(w io.Writer, keys []demoKey) {
	width := 0
	for _, k := range keys {
		width = max(width, len(k.env)+len(k.path)+9)
	}
	for _, k := range keys {
		fmt.Fprintf(w, "  %-*s  # %s: %s\n", width, k.env+"=$(cat "+k.path+")", k.role, k.use)
	}
}
