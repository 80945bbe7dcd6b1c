// Package config is brokerguard's one typed configuration: defaults, then a YAML file, then environment
// variables (BROKERGUARD_*), then command-line flags. It is validated once at start with errors that
// name the setting; secrets (API keys) are read from files or environment variables and never printed.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/brokerguard/brokerguard/internal/campaign"
	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/ingest"
)

// Config is the whole configuration.
type Config struct {
	// DataDir holds the embedded database and generated files.
	DataDir string `yaml:"data_dir"`
	// DB names the store: empty for SQLite in DataDir, a path ending in .db for another SQLite file, or a
	// postgres:// URL.
	DB string `yaml:"db"`
	// IPDB is a folder of MaxMind DB files (ASN, country) and hosting/VPN ASN lists.
	IPDB string `yaml:"ipdb"`
	// Rules is a rules file; empty for the shipped pack.
	Rules string `yaml:"rules"`
	// ShadowRules is a rules file run in shadow beside the live set.
	ShadowRules string `yaml:"shadow_rules"`
	// Model is a scoring model file; empty for the shipped model.
	Model string `yaml:"model"`
	// Lateness is how late an event may arrive and still be processed in time order.
	Lateness time.Duration `yaml:"lateness"`
	// FutureTolerance is how far ahead of the clock an event time may be.
	FutureTolerance time.Duration `yaml:"future_tolerance"`
	// Thresholds map scores to actions per event type; empty for the shipped ladders.
	Thresholds *detect.Thresholds `yaml:"thresholds"`
	// AlertScore is the lowest score of a challenged event that raises an account_takeover alert.
	AlertScore int `yaml:"alert_score"`
	// Limits bound the money and shares that an event may carry; beyond them it is refused.
	Limits Limits `yaml:"limits"`

	// Campaign configures the cross-account campaign layer.
	Campaign Campaign `yaml:"campaign"`
	// FraudReportLock is how long a fraud report locks the account: 0 (the default) until the customer
	// is re-verified and an analyst unlocks it, or a duration such as 72h.
	FraudReportLock time.Duration `yaml:"fraud_report_lock"`
	// CompensationPolicy is the firm's compensation policy for incidents: restore, half_purchased,
	// half_total, or a policy file (YAML). Empty: restore.
	CompensationPolicy string `yaml:"compensation_policy"`

	// Retention is how long the store keeps quotes and account events; brokerguard db compact applies it.
	Retention Retention `yaml:"retention"`

	Server  Server   `yaml:"server"`
	OIDC    OIDC     `yaml:"oidc"`
	APIKeys []APIKey `yaml:"api_keys"`
	Log     Log      `yaml:"log"`
	// FIX is serve's FIX 4.4 drop-copy acceptor; off without fix.listen.
	FIX FIX `yaml:"fix"`
	// Phishing is what serve watches for sites that imitate the firm; off without ct_logs.
	Phishing Phishing `yaml:"phishing"`
	// Notices are the messages serve sends customers; off without notices.firm.
	Notices Notices `yaml:"notices"`
}

// Notices configure the customer notices of serve: on logins from a new device or place, changes of
// the customer's details, holds and blocks, by e-mail and by a signed webhook to the firm's app; never
// with a link.
type Notices struct {
	Firm      string `yaml:"firm"`      // the firm's name as customers know it; empty = no notices
	Templates string `yaml:"templates"` // a folder of ja/notice.txt and en/notice.txt; empty = the built-in ones
	// Contacts is a CSV file of account,email,language (ja or en): where each customer's notice goes.
	Contacts string        `yaml:"contacts"`
	Every    time.Duration `yaml:"every"` // how often the outbox is sent; 2s when 0
	Webhook  struct {
		URL string `yaml:"url"`
		// SecretFile holds the signing secret (whsec_…); BROKERGUARD_NOTICE_WEBHOOK_SECRET overrides it.
		SecretFile string `yaml:"secret_file"`
		Secret     string `yaml:"-"`
	} `yaml:"webhook"`
	SMTP struct {
		Host         string `yaml:"host"`
		Port         int    `yaml:"port"`
		Username     string `yaml:"username"`
		PasswordFile string `yaml:"password_file"` // BROKERGUARD_SMTP_PASSWORD overrides it
		Password     string `yaml:"-"`
		From         string `yaml:"from"`
		TLS          string `yaml:"tls"` // starttls (default), tls or none
	} `yaml:"smtp"`
}

// Phishing names the firm's domains and brands and the Certificate Transparency logs serve follows
// for certificates of names that imitate them; each is a phishing_site alert.
type Phishing struct {
	Domains []string `yaml:"domains"` // the firm's own registrable domains
	Brands  []string `yaml:"brands"`  // the words a phishing name copies; default: the domains' first labels
	Allow   []string `yaml:"allow"`   // partners' domains, never reported
	CTLogs  []CTLog  `yaml:"ct_logs"`
	// CTPoll is how often each log is asked for new entries; 1m when 0.
	CTPoll time.Duration `yaml:"ct_poll"`
	// CTFromStart reads a log never read before from its first entry instead of from its current end.
	CTFromStart bool `yaml:"ct_from_start"`
}

// CTLog is one RFC 6962 log.
type CTLog struct {
	URL string `yaml:"url"`
	// PublicKey is the log's key, base64 DER as log lists give it; its tree heads are verified with it.
	PublicKey string `yaml:"public_key"`
}

// FIX configures the drop-copy acceptor: the firm's order system connects to it as the FIX initiator
// and its NewOrderSingle, OrderCancelRequest and fills are decided like events sent over HTTP.
type FIX struct {
	Listen     string `yaml:"listen"`       // host:port; empty = no FIX
	CompID     string `yaml:"comp_id"`      // brokerguard's CompID (the firm's TargetCompID)
	PeerCompID string `yaml:"peer_comp_id"` // the firm's engine's SenderCompID
	Username   string `yaml:"username"`     // the Logon's Username (553); empty = none checked
	// PasswordFile holds the Logon's Password (554); BROKERGUARD_FIX_PASSWORD overrides it.
	PasswordFile string `yaml:"password_file"`
	Password     string `yaml:"-"`
	// Tags name the custom tags that carry the contract's fields FIX has no place for (0: not sent);
	// the account is tag 1 (Account) unless Tags.Account says otherwise.
	Tags FIXTags `yaml:"tags"`
	// DefaultChannel is the channel of an order that does not carry one: web, app, api or phone.
	DefaultChannel string `yaml:"default_channel"`
}

// FIXTags are the tags of the drop copy that carry the order's account and origin.
type FIXTags struct {
	Account   int `yaml:"account"`
	Session   int `yaml:"session"`
	IP        int `yaml:"ip"`
	Device    int `yaml:"device"`
	UserAgent int `yaml:"user_agent"`
	TLS       int `yaml:"tls"`
	Channel   int `yaml:"channel"`
}

// Campaign configures the campaign layer: herding, market ramps, beneficiaries, shared infrastructure
// and the watchlist. Zero tuning fields take the layer's defaults.
type Campaign struct {
	// Enabled turns the layer on (the default).
	Enabled         bool `yaml:"enabled"`
	campaign.Config `yaml:",inline"`
}

// Retention is how long the store keeps events, measured in data time: back from the latest stored
// event's time, not the wall clock. 0 keeps them forever (the default). Decisions, alerts, the audit
// trail and instrument events are always kept. brokerguard db compact applies it.
type Retention struct {
	// Quotes older than this are deleted, except the last quote of each symbol and day and every quote
	// of the two latest quote days (what the market state rebuilt at start and incident valuation need).
	Quotes time.Duration `yaml:"quotes"`
	// RawEvents: account events (logins, orders, …) older than this are deleted. Their decisions and
	// alerts stay, but serve rebuilds its profiles at start from the events that remain.
	RawEvents time.Duration `yaml:"raw_events"`
}

// MinRetention is the shortest retention accepted other than 0.
const MinRetention = 24 * time.Hour

// Limits bound the numbers of an event: a price, amount, cash, cost or fee above MaxYen, or a quantity,
// volume, lot or share count above MaxShares, is refused (out_of_range) in serve and replay alike.
type Limits struct {
	MaxYen    float64 `yaml:"max_yen"`
	MaxShares float64 `yaml:"max_shares"`
}

// Event returns the limits as the event decoder takes them.
func (l Limits) Event() event.Limits { return event.Limits{MaxYen: l.MaxYen, MaxShares: l.MaxShares} }

// DefaultMaxInflightRequests is the default of server.max_inflight_requests. On a shared 2-core machine
// bench --overload found 8 better than 16 and 32 on every count: more requests accepted at twice the
// sustained rate, and the server's p99 for them 8-23 ms against 30 and 93 ms. More in flight only adds
// waiting (Little's law: 8 requests at 5,000/s are 1.6 ms of queue).
const DefaultMaxInflightRequests = 8

// Server configures the HTTP API.
type Server struct {
	Listen          string        `yaml:"listen"`
	MaxBodyBytes    int64         `yaml:"max_body_bytes"`
	MaxBatch        int           `yaml:"max_batch"`
	ReadTimeout     time.Duration `yaml:"read_timeout"`
	WriteTimeout    time.Duration `yaml:"write_timeout"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// CommitDelay is how long a store transaction waits for more requests to join it (group commit).
	CommitDelay time.Duration `yaml:"commit_delay"`
	// MaxInflightEvents bounds the events in flight in the server, from the start of a request's
	// processing until its commit is answered; a request beyond it is shed with 429 and Retry-After.
	MaxInflightEvents int `yaml:"max_inflight_events"`
	// MaxInflightRequests bounds the POST /v1/events requests processed at once; one beyond it is
	// shed with 429 and Retry-After before its body is read.
	MaxInflightRequests int `yaml:"max_inflight_requests"`
	// AdmissionWait is how long a request may wait for room among the events in flight before it is
	// shed (0: shed at once).
	AdmissionWait time.Duration `yaml:"admission_wait"`
	// SecureCookies marks the console's session cookie Secure: set it when browsers reach the server
	// over HTTPS (through a TLS proxy); the cookie is then never sent over plain HTTP.
	SecureCookies bool `yaml:"secure_cookies"`
}

// OIDC signs staff in to the console through the firm's identity provider (OpenID Connect,
// authorization code with PKCE). Without an issuer it is off and staff sign in with passwords only.
// Who may sign in, and with which role, is still the console's users (brokerguard user add): the
// provider's username claim must name one.
type OIDC struct {
	Issuer           string `yaml:"issuer"`             // https://idp.example.com/realms/firm
	ClientID         string `yaml:"client_id"`          // the console's client at the provider
	ClientSecretFile string `yaml:"client_secret_file"` // a file holding the client secret (owner-only)
	RedirectURL      string `yaml:"redirect_url"`       // https://console.example.com/signin/oidc/callback
	UsernameClaim    string `yaml:"username_claim"`     // the ID token's claim that names the user; default preferred_username
}

// Roles of API keys.
const (
	RoleIngest     = "ingest"     // send events, read back decisions
	RoleRead       = "read"       // read decisions, alerts and metrics
	RoleAnalyst    = "analyst"    // read everything; act on the watchlist, locks and incidents
	RoleSupervisor = "supervisor" // an analyst who also approves compensation decisions
	RoleAdmin      = "admin"      // everything
)

// APIKey is one bearer key. Exactly one of KeyFile, KeyEnv and SHA256 gives the secret.
type APIKey struct {
	Name    string `yaml:"name"`
	Role    string `yaml:"role"`
	KeyFile string `yaml:"key_file"`
	KeyEnv  string `yaml:"key_env"`
	SHA256  string `yaml:"sha256"` // hex SHA-256 of the key, for configs that must not hold the key

	hash [32]byte
}

// Hash returns the SHA-256 of the key, resolved by Validate.
func (k *APIKey) Hash() [32]byte { return k.hash }

// SetKey sets the secret directly (for generated keys).
func (k *APIKey) SetKey(secret string) { k.hash = sha256.Sum256([]byte(secret)) }

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // text | json
}

// Default returns the built-in configuration.
func Default() Config {
	return Config{
		DataDir:         "brokerguard-data",
		Lateness:        5 * time.Minute,
		FutureTolerance: 5 * time.Minute,
		AlertScore:      850,
		Limits:          Limits{MaxYen: event.DefaultMaxYen, MaxShares: event.DefaultMaxShares},
		Campaign:        Campaign{Enabled: true},
		Server: Server{Listen: "127.0.0.1:8080", MaxBodyBytes: 4 << 20, MaxBatch: 1000,
			ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, ShutdownTimeout: 15 * time.Second,
			CommitDelay: 0, MaxInflightEvents: ingest.DefaultMaxInflight,
			MaxInflightRequests: DefaultMaxInflightRequests},
		Log: Log{Level: "info", Format: "text"},
	}
}

// Load returns the defaults overlaid with the file at path (if not empty) and the environment.
func Load(path string, environ []string) (Config, error) {
	c := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		if err := c.parse(b, path); err != nil {
			return c, err
		}
	}
	if err := c.applyEnv(environ); err != nil {
		return c, err
	}
	return c, nil
}

func (c *Config) parse(b []byte, name string) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", name, err)
	}
	return nil
}

// applyEnv overlays BROKERGUARD_* variables.
func (c *Config) applyEnv(environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "BROKERGUARD_") {
			env[k] = v
		}
	}
	str := map[string]*string{
		"BROKERGUARD_DATA_DIR": &c.DataDir, "BROKERGUARD_DB": &c.DB, "BROKERGUARD_IPDB": &c.IPDB,
		"BROKERGUARD_RULES": &c.Rules, "BROKERGUARD_SHADOW_RULES": &c.ShadowRules, "BROKERGUARD_MODEL": &c.Model,
		"BROKERGUARD_LISTEN": &c.Server.Listen, "BROKERGUARD_LOG_LEVEL": &c.Log.Level, "BROKERGUARD_LOG_FORMAT": &c.Log.Format,
	}
	if v, ok := env["BROKERGUARD_NOTICE_WEBHOOK_SECRET"]; ok {
		c.Notices.Webhook.Secret = v
	}
	if v, ok := env["BROKERGUARD_SMTP_PASSWORD"]; ok {
		c.Notices.SMTP.Password = v
	}
	if v, ok := env["BROKERGUARD_FIX_PASSWORD"]; ok {
		c.FIX.Password = v
	}
	for k, p := range str {
		if v, ok := env[k]; ok {
			*p = v
		}
	}
	for k, p := range map[string]*time.Duration{"BROKERGUARD_LATENESS": &c.Lateness, "BROKERGUARD_FUTURE_TOLERANCE": &c.FutureTolerance,
		"BROKERGUARD_COMMIT_DELAY": &c.Server.CommitDelay, "BROKERGUARD_ADMISSION_WAIT": &c.Server.AdmissionWait} {
		if v, ok := env[k]; ok {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("config: %s: %q is not a duration such as 5m", k, v)
			}
			*p = d
		}
	}
	if v, ok := env["BROKERGUARD_CAMPAIGN"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("config: BROKERGUARD_CAMPAIGN: %q is not true or false", v)
		}
		c.Campaign.Enabled = b
	}
	if v, ok := env["BROKERGUARD_ALERT_SCORE"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("config: BROKERGUARD_ALERT_SCORE: %q is not a whole number", v)
		}
		c.AlertScore = n
	}
	return nil
}

// Validate checks every setting and resolves API key secrets. Its error lists every problem.
func (c *Config) Validate() error {
	var errs []error
	bad := func(f string, a ...any) { errs = append(errs, fmt.Errorf("config: "+f, a...)) }
	if c.DataDir == "" {
		bad("data_dir: required")
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") &&
		!strings.HasPrefix(c.DB, "sqlite:") && !strings.HasSuffix(c.DB, ".db") {
		bad("db: %q: want a postgres:// URL, sqlite:PATH or a path ending in .db", redactURL(c.DB))
	}
	if n := c.Notices; n.Firm != "" {
		if n.Webhook.URL == "" && n.SMTP.Host == "" {
			bad("notices: give notices.webhook.url or notices.smtp.host (or both)")
		}
		if n.Webhook.URL != "" && n.Webhook.SecretFile == "" && n.Webhook.Secret == "" {
			bad("notices: webhook.url needs webhook.secret_file (or BROKERGUARD_NOTICE_WEBHOOK_SECRET)")
		}
		if n.SMTP.Host != "" && (n.SMTP.From == "" || n.Contacts == "") {
			bad("notices: smtp needs smtp.from and contacts (the customers' addresses)")
		}
		switch n.SMTP.TLS {
		case "", "starttls", "tls", "none":
		default:
			bad("notices: smtp.tls %q: want starttls, tls or none", n.SMTP.TLS)
		}
		if n.Every < 0 {
			bad("notices: every %s is negative", n.Every)
		}
	}
	if p := c.Phishing; len(p.CTLogs) > 0 {
		if len(p.Domains) == 0 && len(p.Brands) == 0 {
			bad("phishing: ct_logs need the firm's domains or brands")
		}
		for i, l := range p.CTLogs {
			if !strings.HasPrefix(l.URL, "https://") && !strings.HasPrefix(l.URL, "http://") {
				bad("phishing: ct_logs[%d].url %q: want an http(s) URL", i, l.URL)
			}
		}
		if p.CTPoll < 0 || (p.CTPoll > 0 && p.CTPoll < time.Second) {
			bad("phishing: ct_poll %s: want 1s or more", p.CTPoll)
		}
	}
	if f := c.FIX; f.Listen != "" {
		if f.CompID == "" || f.PeerCompID == "" {
			bad("fix: comp_id and peer_comp_id are required with fix.listen")
		}
		if f.Username != "" && f.PasswordFile == "" && f.Password == "" {
			bad("fix: username %q needs password_file (or BROKERGUARD_FIX_PASSWORD)", f.Username)
		}
		for name, tag := range map[string]int{"account": f.Tags.Account, "session": f.Tags.Session, "ip": f.Tags.IP, "device": f.Tags.Device,
			"user_agent": f.Tags.UserAgent, "tls": f.Tags.TLS, "channel": f.Tags.Channel} {
			if tag < 0 || (tag > 0 && tag < 5000 && name != "account") {
				bad("fix: tags.%s: %d is not a custom tag (5000 and up)", name, tag)
			}
		}
		switch f.DefaultChannel {
		case "", "web", "app", "api", "phone":
		default:
			bad("fix: default_channel %q: want web, app, api or phone", f.DefaultChannel)
		}
	}
	if c.Lateness < 0 || c.Lateness > 24*time.Hour {
		bad("lateness: %s, want 0 to 24h", c.Lateness)
	}
	if c.FraudReportLock < 0 {
		bad("fraud_report_lock: %s, want 0 (until re-verified) or a positive duration", c.FraudReportLock)
	}
	if c.Campaign.ThinValue < 0 {
		bad("campaign.thin_value_yen: %v, want ≥ 0", c.Campaign.ThinValue)
	}
	if c.FutureTolerance < 0 {
		bad("future_tolerance: %s, want ≥ 0", c.FutureTolerance)
	}
	for name, d := range map[string]time.Duration{"retention.quotes": c.Retention.Quotes, "retention.raw_events": c.Retention.RawEvents} {
		if d != 0 && d < MinRetention {
			bad("%s: %s, want 0 (keep forever) or at least %s", name, d, MinRetention)
		}
	}
	if c.AlertScore < 0 || c.AlertScore > 1000 {
		bad("alert_score: %d, want 0..1000", c.AlertScore)
	}
	if c.Limits.MaxYen == 0 || c.Limits.MaxShares == 0 {
		bad("limits: max_yen and max_shares must not be 0 (omit them for %g yen and %g shares)", float64(event.DefaultMaxYen), float64(event.DefaultMaxShares))
	} else if err := c.Limits.Event().Validate(); err != nil {
		bad("limits.%v", err)
	}
	if c.Thresholds != nil {
		if err := c.Thresholds.Validate(); err != nil {
			bad("%v", err)
		}
	}
	if c.Server.Listen == "" {
		bad("server.listen: required")
	}
	if c.Server.MaxBodyBytes < 1024 {
		bad("server.max_body_bytes: %d, want at least 1024", c.Server.MaxBodyBytes)
	}
	if c.Server.CommitDelay < 0 || c.Server.CommitDelay > time.Second {
		bad("server.commit_delay: %s, want 0 to 1s", c.Server.CommitDelay)
	}
	if c.Server.MaxInflightEvents < 1 || c.Server.MaxInflightEvents > 1000000 {
		bad("server.max_inflight_events: %d, want 1..1000000", c.Server.MaxInflightEvents)
	}
	if c.Server.MaxInflightRequests < 1 || c.Server.MaxInflightRequests > 100000 {
		bad("server.max_inflight_requests: %d, want 1..100000", c.Server.MaxInflightRequests)
	}
	if c.Server.AdmissionWait < 0 || c.Server.AdmissionWait > time.Second {
		bad("server.admission_wait: %s, want 0 to 1s", c.Server.AdmissionWait)
	}
	if c.Server.MaxBatch < 1 || c.Server.MaxBatch > 100000 {
		bad("server.max_batch: %d, want 1..100000", c.Server.MaxBatch)
	}
	if o := c.OIDC; o.Issuer != "" {
		if u, err := url.Parse(o.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("oidc.issuer: %q, want an https:// URL", o.Issuer)
		}
		if o.ClientID == "" {
			bad("oidc.client_id: required with oidc.issuer")
		}
		if u, err := url.Parse(o.RedirectURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Path != "/signin/oidc/callback" {
			bad("oidc.redirect_url: %q, want the console's URL ending in /signin/oidc/callback", o.RedirectURL)
		}
	} else if c.OIDC != (OIDC{}) {
		bad("oidc: issuer is required when any oidc setting is given")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level: %q, want debug | info | warn | error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format: %q, want text | json", c.Log.Format)
	}
	names := map[string]bool{}
	for i := range c.APIKeys {
		k := &c.APIKeys[i]
		where := fmt.Sprintf("api_keys[%d]", i)
		if k.Name == "" {
			bad("%s.name: required", where)
		} else if names[k.Name] {
			bad("%s.name: %q used twice", where, k.Name)
		}
		names[k.Name] = true
		switch k.Role {
		case RoleIngest, RoleRead, RoleAnalyst, RoleSupervisor, RoleAdmin:
		default:
			bad("%s.role: %q, want ingest | read | analyst | supervisor | admin", where, k.Role)
		}
		n := 0
		for _, s := range []string{k.KeyFile, k.KeyEnv, k.SHA256} {
			if s != "" {
				n++
			}
		}
		if n != 1 {
			bad("%s: give exactly one of key_file, key_env, sha256", where)
			continue
		}
		switch {
		case k.KeyFile != "":
			b, err := ReadKeyFile(k.KeyFile)
			if err != nil {
				bad("%s.key_file: %v", where, err)
				continue
			}
			secret := strings.TrimSpace(string(b))
			if len(secret) < 16 {
				bad("%s.key_file: key shorter than 16 characters", where)
				continue
			}
			k.SetKey(secret)
		case k.KeyEnv != "":
			secret := strings.TrimSpace(os.Getenv(k.KeyEnv))
			if len(secret) < 16 {
				bad("%s.key_env: %s is unset or shorter than 16 characters", where, k.KeyEnv)
				continue
			}
			k.SetKey(secret)
		default:
			h, err := hex.DecodeString(k.SHA256)
			if err != nil || len(h) != 32 {
				bad("%s.sha256: want 64 hex digits", where)
				continue
			}
			copy(k.hash[:], h)
		}
	}
	return errors.Join(errs...)
}

// ReadKeyFile reads a file that holds a secret. A file that its group or others may read is refused
// (on systems with Unix permissions), as ssh refuses such a private key: the secret may have leaked.
func ReadKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("%s holds a secret but its group or others may read it (mode %04o); chmod 600 %s", path, perm, path)
	}
	return io.ReadAll(f)
}

// redactURL hides a password in a database URL, for errors and logs.
func redactURL(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if at := strings.Index(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				return s[:i+3] + rest[:colon] + ":xxxxx" + rest[at:]
			}
		}
	}
	return s
}

// RedactedDB is the database setting safe to log.
func (c *Config) RedactedDB() string { return redactURL(c.DB) }
