package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	mail "github.com/wneessen/go-mail"
)

// Contact is how a customer is reached.
type Contact struct {
	Email    string
	Language string // ja or en
	// Off is set when the customer turned notices off (a snapshot's notifications: false): only
	// required notices (blocks) are sent.
	Off bool
}

// Channel delivers one rendered notice. An error is retried later; a PermanentError is not.
type Channel interface {
	Name() string
	Deliver(ctx context.Context, n Notice, c Contact, r Rendered) error
}

// PermanentError is a delivery that will never succeed (no address, a refused request).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Webhook posts each notice to the firm's app, signed as Standard Webhooks do: headers webhook-id,
// webhook-timestamp and webhook-signature ("v1," and the base64 HMAC-SHA256 of id.timestamp.body under
// the secret). The receiver checks the signature, refuses a timestamp more than a few minutes off and
// an id it has seen: a delivery repeated after a retry carries the same id.
type Webhook struct {
	URL    string
	Secret []byte // the key; configured as whsec_ and its base64
	HTTP   *http.Client
	Now    func() time.Time
}

// ParseWebhookSecret reads a secret written as Standard Webhooks write them: "whsec_" and base64.
func ParseWebhookSecret(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(s), "whsec_"))
	if err != nil || len(b) < 16 {
		return nil, errors.New("notify: webhook secret: want whsec_ and the base64 of at least 16 bytes")
	}
	return b, nil
}

func (w *Webhook) Name() string { return "webhook" }

// payload is the webhook's body.
type payload struct {
	Type      string   `json:"type"` // notice.login, notice.hold, …
	Timestamp string   `json:"timestamp"`
	Data      any      `json:"data"`
	Message   Rendered `json:"message"`
}

// Sign returns the webhook-signature header of body.
func (w *Webhook) Sign(id string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, w.Secret)
	fmt.Fprintf(mac, "%s.%d.", id, ts.Unix())
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func (w *Webhook) Deliver(ctx context.Context, n Notice, _ Contact, r Rendered) error {
	now := w.Now()
	body, err := json.Marshal(payload{Type: "notice." + n.Kind, Timestamp: now.UTC().Format(time.RFC3339), Data: n, Message: r})
	if err != nil {
		return &PermanentError{err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return &PermanentError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", n.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", w.Sign(n.ID, now, body))
	hc := w.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		return fmt.Errorf("webhook %s answered %s", w.URL, resp.Status)
	default:
		return &PermanentError{fmt.Errorf("webhook %s refused the notice: %s", w.URL, resp.Status)}
	}
}

// Email sends notices over SMTP, plain text and HTML.
type Email struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	// TLS: "starttls" (required), "tls" (implicit, port 465) or "none" (a relay on the same host).
	TLS string
}

func (e *Email) Name() string { return "email" }

func (e *Email) Deliver(ctx context.Context, n Notice, c Contact, r Rendered) error {
	if c.Email == "" {
		return &PermanentError{fmt.Errorf("no e-mail address for the account")}
	}
	m := mail.NewMsg()
	if err := m.From(e.From); err != nil {
		return &PermanentError{fmt.Errorf("notify: from %q: %w", e.From, err)}
	}
	if err := m.To(c.Email); err != nil {
		return &PermanentError{fmt.Errorf("notify: address of the account: %w", err)}
	}
	m.Subject(r.Subject)
	m.SetMessageIDWithValue(n.ID + "@brokerguard")
	m.SetDate()
	m.SetBodyString(mail.TypeTextPlain, r.Text)
	m.AddAlternativeString(mail.TypeTextHTML, r.HTML)
	opts := []mail.Option{mail.WithPort(e.Port), mail.WithTimeout(20 * time.Second)}
	switch e.TLS {
	case "", "starttls":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case "tls":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		return &PermanentError{fmt.Errorf("notify: smtp tls %q: want starttls, tls or none", e.TLS)}
	}
	if e.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(e.Username), mail.WithPassword(e.Password))
	}
	client, err := mail.NewClient(e.Host, opts...)
	if err != nil {
		return &PermanentError{err}
	}
	return client.DialAndSendWithContext(ctx, m)
}

// Outbox keeps notices on disk until every channel has delivered them: dir/outbox/<id>.json, moved to
// dir/dead/<id>.json after the last attempt fails.
type Outbox struct {
	Dir string
	mu  sync.Mutex
}

// item is a notice in the outbox, with its delivery state.
type item struct {
	Notice    Notice            `json:"notice"`
	Done      []string          `json:"done"`     // channels that delivered it
	Attempts  int               `json:"attempts"` // failed rounds so far
	NextTry   time.Time         `json:"next_try"` // not before
	LastError map[string]string `json:"last_error,omitempty"`
}

func (o *Outbox) path(sub, id string) string { return filepath.Join(o.Dir, sub, id+".json") }

// Put adds a notice; one already in the outbox or delivered is not added again. It does not wait for
// deliveries in progress.
func (o *Outbox) Put(n Notice) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := os.MkdirAll(filepath.Join(o.Dir, "outbox"), 0o700); err != nil {
		return fmt.Errorf("notify: outbox: %w", err)
	}
	for _, sub := range []string{"outbox", "sent", "dead"} {
		if _, err := os.Stat(o.path(sub, n.ID)); err == nil {
			return nil
		}
	}
	return o.write("outbox", item{Notice: n})
}

func (o *Outbox) write(sub string, it item) error {
	if err := os.MkdirAll(filepath.Join(o.Dir, sub), 0o700); err != nil {
		return fmt.Errorf("notify: outbox: %w", err)
	}
	b, _ := json.Marshal(it)
	p := o.path(sub, it.Notice.ID)
	if err := os.WriteFile(p+".tmp", b, 0o600); err != nil {
		return fmt.Errorf("notify: outbox: %w", err)
	}
	return os.Rename(p+".tmp", p)
}

func (o *Outbox) list(sub string) ([]item, error) {
	entries, err := os.ReadDir(filepath.Join(o.Dir, sub))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []item
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(o.Dir, sub, e.Name()))
		if err != nil {
			return nil, err
		}
		var it item
		if err := json.Unmarshal(b, &it); err != nil {
			return nil, fmt.Errorf("notify: %s/%s is damaged: %v", sub, e.Name(), err)
		}
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b item) int { return a.Notice.Time.Compare(b.Notice.Time) })
	return out, nil
}

// Find returns the notice with id, waiting, sent or dead; a sent one keeps its account, kind, time and
// subject only. ok is false for an id never queued.
func (o *Outbox) Find(id string) (n Notice, ok bool, err error) {
	if !strings.HasPrefix(id, "ntc-") || strings.ContainsAny(id, "/\\") || strings.Contains(id, "..") {
		return Notice{}, false, nil
	}
	for _, sub := range []string{"sent", "outbox", "dead"} {
		b, err := os.ReadFile(o.path(sub, id))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Notice{}, false, err
		}
		var it item
		if err := json.Unmarshal(b, &it); err != nil {
			return Notice{}, false, fmt.Errorf("notify: %s/%s is damaged: %v", sub, id, err)
		}
		return it.Notice, true, nil
	}
	return Notice{}, false, nil
}

// Dead returns the notices no channel could deliver after every attempt, oldest first, with the last
// error of each channel.
func (o *Outbox) Dead() ([]DeadNotice, error) {
	items, err := o.list("dead")
	var out []DeadNotice
	for _, it := range items {
		out = append(out, DeadNotice{Notice: it.Notice, Attempts: it.Attempts, Errors: it.LastError})
	}
	return out, err
}

// DeadNotice is a notice on the dead-letter list.
type DeadNotice struct {
	Notice   Notice            `json:"notice"`
	Attempts int               `json:"attempts"`
	Errors   map[string]string `json:"errors"`
}

// Sender delivers the outbox.
type Sender struct {
	flushing  sync.Mutex // one Flush at a time
	Outbox    *Outbox
	Templates *Templates
	Channels  []Channel
	Contacts  func(account string) Contact
	Now       func() time.Time
	Log       *slog.Logger
	// Backoff is the wait after the first failed round, doubled at each one after; MaxAttempts rounds
	// fail before a notice goes to the dead-letter list. 2 s and 8 when 0.
	Backoff     time.Duration
	MaxAttempts int
}

// Flush tries every notice due now once and returns how many were delivered by every channel.
func (s *Sender) Flush(ctx context.Context) (int, error) {
	s.flushing.Lock()
	defer s.flushing.Unlock()
	items, err := s.Outbox.list("outbox")
	if err != nil {
		return 0, err
	}
	backoff, maxAttempts := s.Backoff, s.MaxAttempts
	if backoff <= 0 {
		backoff = 2 * time.Second
	}
	if maxAttempts <= 0 {
		maxAttempts = 8
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sent := 0
	now := s.Now()
	for _, it := range items {
		if now.Before(it.NextTry) {
			continue
		}
		c := s.Contacts(it.Notice.Account)
		if c.Off && !it.Notice.Required {
			os.Remove(s.Outbox.path("outbox", it.Notice.ID)) // the customer turned notices off
			continue
		}
		r, err := s.Templates.Render(it.Notice, c.Language)
		if err != nil {
			it.LastError = map[string]string{"render": err.Error()}
			it.Attempts = maxAttempts
		}
		permanent := err != nil
		for _, ch := range s.Channels {
			if err != nil || slices.Contains(it.Done, ch.Name()) {
				continue
			}
			if derr := ch.Deliver(ctx, it.Notice, c, r); derr != nil {
				if it.LastError == nil {
					it.LastError = map[string]string{}
				}
				it.LastError[ch.Name()] = derr.Error()
				var pe *PermanentError
				permanent = permanent || errors.As(derr, &pe)
				log.Warn("notice not delivered", "notice", it.Notice.ID, "channel", ch.Name(), "err", derr)
				continue
			}
			it.Done = append(it.Done, ch.Name())
		}
		if len(it.Done) == len(s.Channels) {
			marker := Notice{ID: it.Notice.ID, Account: it.Notice.Account, Kind: it.Notice.Kind, Time: it.Notice.Time, Subject: it.Notice.Subject}
			if err := s.Outbox.write("sent", item{Notice: marker, Done: it.Done}); err != nil {
				return sent, err
			}
			os.Remove(s.Outbox.path("outbox", it.Notice.ID))
			sent++
			continue
		}
		it.Attempts++
		if permanent || it.Attempts >= maxAttempts {
			if err := s.Outbox.write("dead", it); err != nil {
				return sent, err
			}
			os.Remove(s.Outbox.path("outbox", it.Notice.ID))
			log.Error("notice moved to the dead-letter list", "notice", it.Notice.ID, "attempts", it.Attempts)
			continue
		}
		it.NextTry = now.Add(backoff << (it.Attempts - 1))
		if err := s.Outbox.write("outbox", it); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// Run flushes the outbox every interval until ctx ends.
func (s *Sender) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.Flush(ctx); err != nil && s.Log != nil {
			s.Log.Error("notices not sent", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
