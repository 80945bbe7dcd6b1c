package phishing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	ct "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/client"
	"github.com/google/certificate-transparency-go/jsonclient"
	ctx509 "github.com/google/certificate-transparency-go/x509"
)

// Site is a lookalike name found in a certificate logged in Certificate Transparency.
type Site struct {
	Finding
	Log       string    `json:"log"`   // the log's URL
	Index     int64     `json:"index"` // the entry's index in the log
	Precert   bool      `json:"precert"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"not_before"`
	Logged    time.Time `json:"logged"` // the entry's timestamp
}

// ID is the same for the same name in the same entry of the same log: a site found again after a
// restart between finding and recording it is recognised.
func (s Site) ID() string {
	return fmt.Sprintf("ct-%s-%d-%s", logKey(s.Log), s.Index, s.Name)
}

// Positions keeps, per log, the index of the next entry to read.
type Positions interface {
	Next(log string) (int64, error)
	SetNext(log string, next int64) error
}

// FilePositions keeps positions in a JSON file, replaced by rename at every change.
type FilePositions struct{ Path string }

func (f FilePositions) read() (map[string]int64, error) {
	m := map[string]int64{}
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("phishing: CT positions: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("phishing: CT positions in %s are damaged: %v (remove the file to start at each log's end)", f.Path, err)
	}
	return m, nil
}

// Next returns the next index of log, -1 for a log never read.
func (f FilePositions) Next(log string) (int64, error) {
	m, err := f.read()
	if err != nil {
		return 0, err
	}
	n, ok := m[log]
	if !ok {
		return -1, nil
	}
	return n, nil
}

func (f FilePositions) SetNext(log string, next int64) error {
	m, err := f.read()
	if err != nil {
		return err
	}
	m[log] = next
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o700); err != nil {
		return fmt.Errorf("phishing: CT positions: %w", err)
	}
	tmp := f.Path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("phishing: CT positions: %w", err)
	}
	return os.Rename(tmp, f.Path)
}

// FollowerOptions configure a Follower.
type FollowerOptions struct {
	Logs      []string     // RFC 6962 log URLs, e.g. https://ct.googleapis.com/logs/us1/argon2026h1
	PublicKey [][]byte     // per log, the DER public key its tree heads are verified with; nil entries verify nothing
	HTTP      *http.Client // nil: a client with a 30 s timeout
	Matcher   *Matcher
	Positions Positions
	// Found receives each site. An error stops the round; the entries from the last kept position are
	// read again next round, so Found must take a site it has seen (by ID) again without harm.
	Found func(ctx context.Context, s Site) error
	// Batch is the number of entries asked for at once; 256 when 0. Logs may answer with fewer.
	Batch int
	// FromStart reads a log never read before from its first entry; otherwise from its current end.
	FromStart bool
	Log       *slog.Logger
}

// Follower reads new entries of CT logs and reports the lookalike names in their certificates.
type Follower struct {
	o       FollowerOptions
	clients []*client.LogClient
}

// NewFollower checks the options and builds a client per log.
func NewFollower(o FollowerOptions) (*Follower, error) {
	if len(o.Logs) == 0 || o.Matcher == nil || o.Positions == nil || o.Found == nil {
		return nil, errors.New("phishing: a follower needs logs, a matcher, positions and Found")
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	f := &Follower{o: o}
	for i, u := range o.Logs {
		var opts jsonclient.Options
		if i < len(o.PublicKey) {
			opts.PublicKeyDER = o.PublicKey[i]
		}
		c, err := client.New(strings.TrimSuffix(u, "/"), o.HTTP, opts)
		if err != nil {
			return nil, fmt.Errorf("phishing: CT log %s: %w", u, err)
		}
		f.clients = append(f.clients, c)
	}
	return f, nil
}

// Run polls every log each interval until ctx ends. A log that fails is logged and tried again at the
// next round.
func (f *Follower) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for i := range f.clients {
			if n, err := f.poll(ctx, i); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				f.o.Log.Warn("CT log not read", "log", f.o.Logs[i], "err", err)
			} else if n > 0 {
				f.o.Log.Debug("CT log read", "log", f.o.Logs[i], "entries", n)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Poll reads every log once up to its current tree head and returns the entries read.
func (f *Follower) Poll(ctx context.Context) (int64, error) {
	var total int64
	var errs []error
	for i := range f.clients {
		n, err := f.poll(ctx, i)
		total += n
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.o.Logs[i], err))
		}
	}
	return total, errors.Join(errs...)
}

func (f *Follower) poll(ctx context.Context, i int) (int64, error) {
	c, url := f.clients[i], f.o.Logs[i]
	sth, err := c.GetSTH(ctx) // verified against the log's key when one is given
	if err != nil {
		return 0, err
	}
	size := int64(sth.TreeSize)
	next, err := f.o.Positions.Next(url)
	if err != nil {
		return 0, err
	}
	if next < 0 {
		next = size
		if f.o.FromStart {
			next = 0
		}
		if err := f.o.Positions.SetNext(url, next); err != nil {
			return 0, err
		}
	}
	if next > size {
		return 0, fmt.Errorf("the log's tree has %d entries, fewer than the %d already read: not the same log", size, next)
	}
	var read int64
	for next < size {
		end := min(next+int64(f.o.Batch), size) - 1
		resp, err := c.GetRawEntries(ctx, next, end)
		if err != nil {
			return read, err
		}
		if len(resp.Entries) == 0 {
			return read, fmt.Errorf("get-entries %d-%d answered no entries", next, end)
		}
		for j := range resp.Entries {
			idx := next + int64(j)
			entry, err := ct.LogEntryFromLeaf(idx, &resp.Entries[j])
			if entry == nil {
				f.o.Log.Warn("CT entry not parsed", "log", url, "index", idx, "err", err)
				continue
			}
			for _, s := range f.sites(url, entry) {
				if err := f.o.Found(ctx, s); err != nil {
					return read, err
				}
			}
		}
		next += int64(len(resp.Entries))
		read += int64(len(resp.Entries))
		if err := f.o.Positions.SetNext(url, next); err != nil {
			return read, err
		}
	}
	return read, nil
}

// sites returns the lookalike names of one entry's certificate.
func (f *Follower) sites(url string, e *ct.LogEntry) []Site {
	var cert *ctx509.Certificate
	precert := false
	switch {
	case e.X509Cert != nil:
		cert = e.X509Cert
	case e.Precert != nil && e.Precert.TBSCertificate != nil:
		cert, precert = e.Precert.TBSCertificate, true
	default:
		return nil
	}
	names := slices.Clone(cert.DNSNames)
	if cn := cert.Subject.CommonName; cn != "" && !slices.Contains(names, cn) {
		names = append(names, cn)
	}
	issuer := cert.Issuer.CommonName
	if len(cert.Issuer.Organization) > 0 {
		issuer = cert.Issuer.Organization[0] + " " + issuer
	}
	var out []Site
	seen := map[string]bool{}
	for _, n := range names {
		fd, ok := f.o.Matcher.Match(n)
		if !ok || seen[fd.Name] {
			continue
		}
		seen[fd.Name] = true
		out = append(out, Site{Finding: fd, Log: url, Index: e.Index, Precert: precert, Issuer: strings.TrimSpace(issuer),
			NotBefore: cert.NotBefore.UTC(), Logged: time.UnixMilli(int64(e.Leaf.TimestampedEntry.Timestamp)).UTC()})
	}
	return out
}

// logKey shortens a log URL for ids: its host and path, with separators replaced.
func logKey(u string) string {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	return strings.NewReplacer("/", "_", ":", "_").Replace(strings.TrimSuffix(u, "/"))
}
