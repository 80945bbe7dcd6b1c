package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	smtp "github.com/emersion/go-smtp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/brokerguard/brokerguard/internal/event"
)

var t0 = time.Date(2025, 4, 10, 0, 15, 0, 0, time.UTC)

func ev(typ event.Type, id string) *event.Event {
	return &event.Event{ID: id, Type: typ, Account: "A1", Time: t0, Result: "success", Side: "sell", Symbol: "7203", Quantity: 300,
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36 +http://evil.example/bot"}
}

func dec(action event.Action, codes ...string) event.Decision {
	d := event.Decision{Action: action}
	for _, c := range codes {
		d.Reasons = append(d.Reasons, event.Reason{Code: c})
	}
	return d
}

func TestCompose(t *testing.T) {
	change := ev(event.TypeProfileChange, "p1")
	change.Field = "email"
	cases := []struct {
		name string
		ev   *event.Event
		d    event.Decision
		kind string
	}{
		{"login from a new device", ev(event.TypeLogin, "l1"), dec(event.ActionChallenge, "NEW_DEVICE"), KindLogin},
		{"login as usual", ev(event.TypeLogin, "l2"), dec(event.ActionAllow), ""},
		{"e-mail changed", change, dec(event.ActionAllow), KindAccountChange},
		{"sell held", ev(event.TypeOrder, "o1"), dec(event.ActionHold, "LIQUIDATION"), KindHold},
		{"order allowed", ev(event.TypeOrder, "o2"), dec(event.ActionAllow), ""},
		{"login blocked", ev(event.TypeLogin, "l3"), dec(event.ActionBlock, "ACCOUNT_LOCKED"), KindBlock},
	}
	for _, tc := range cases {
		n, ok := Compose(tc.ev, tc.d, "JP, KDDI")
		if ok != (tc.kind != "") || n.Kind != tc.kind {
			t.Errorf("%s: got %q, %v; want %q", tc.name, n.Kind, ok, tc.kind)
		}
		if ok && (n.ID != "ntc-"+tc.ev.ID || n.Device != "Chrome on Windows") {
			t.Errorf("%s: %+v", tc.name, n)
		}
		if n.Kind == KindBlock && !n.Required {
			t.Errorf("a block notice is not required")
		}
	}
}

func templates(t *testing.T) *Templates {
	t.Helper()
	tp, err := LoadTemplates("", "SBI証券", nil)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func TestRenderWithoutLinks(t *testing.T) {
	tp := templates(t)
	n, _ := Compose(ev(event.TypeOrder, "o1"), dec(event.ActionHold, "LIQUIDATION"), "JP, KDDI")
	ja, err := tp.Render(n, "ja")
	if err != nil {
		t.Fatal(err)
	}
	if ja.Subject != "【SBI証券】ご注文・出金を保留しました" || !strings.Contains(ja.Text, "2025-04-10 09:15 JST") || !strings.Contains(ja.Text, "sell 7203 × 300") {
		t.Errorf("Japanese notice:\n%s\n%s", ja.Subject, ja.Text)
	}
	en, _ := tp.Render(n, "en")
	if !strings.HasPrefix(en.Subject, "[SBI証券] We are holding") || !strings.Contains(en.HTML, "<p>") {
		t.Errorf("English notice: %+v", en)
	}
	// A firm's template that writes a link is refused when it is loaded.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "en"), 0o755)
	os.WriteFile(filepath.Join(dir, "en", "notice.txt"), []byte(`{{define "subject"}}Notice{{end}}{{define "body"}}Check at https://sbisec.example/verify{{end}}`), 0o644)
	if _, err := LoadTemplates(dir, "SBI証券", nil); !errors.Is(err, ErrLink) {
		t.Fatalf("a template with a link: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "en", "notice.txt"), []byte(`{{define "subject"}}Notice{{end}}`), 0o644)
	if _, err := LoadTemplates(dir, "SBI証券", nil); err == nil || !strings.Contains(err.Error(), "body") {
		t.Fatalf("a template without a body: %v", err)
	}
}

// smtpServer is a real SMTP listener on loopback that keeps what it receives.
type smtpServer struct {
	mu   sync.Mutex
	msgs []*netmail.Message
	to   []string
}

func (s *smtpServer) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: s}, nil }

type smtpSession struct{ s *smtpServer }

func (x *smtpSession) Reset()        {}
func (x *smtpSession) Logout() error { return nil }
func (x *smtpSession) Mail(string, *smtp.MailOptions) error {
	return nil
}
func (x *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	x.s.to = append(x.s.to, to)
	x.s.mu.Unlock()
	return nil
}
func (x *smtpSession) Data(r io.Reader) error {
	m, err := netmail.ReadMessage(r)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(m.Body)
	m.Body = strings.NewReader(string(body))
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, m)
	x.s.mu.Unlock()
	return nil
}

func startSMTP(t *testing.T) (*smtpServer, int) {
	be := &smtpServer{}
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return be, ln.Addr().(*net.TCPAddr).Port
}

// receiver is the firm's app: it verifies each delivery with the Standard Webhooks library, refuses an
// id it has seen, and answers with the statuses it is told to.
type receiver struct {
	wh       *standardwebhooks.Webhook
	mu       sync.Mutex
	statuses []int
	got      []map[string]any
	seen     map[string]bool
	refused  int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := rc.wh.Verify(body, r.Header); err != nil || rc.seen[r.Header.Get("webhook-id")] {
		rc.refused++
		http.Error(w, "refused", http.StatusUnauthorized)
		return
	}
	if len(rc.statuses) > 0 {
		st := rc.statuses[0]
		rc.statuses = rc.statuses[1:]
		if st != 200 {
			w.WriteHeader(st)
			return
		}
	}
	rc.seen[r.Header.Get("webhook-id")] = true
	var m map[string]any
	json.Unmarshal(body, &m)
	rc.got = append(rc.got, m)
}

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestDeliverByEmailAndWebhook(t *testing.T) {
	mailbox, port := startSMTP(t)
	wh, _ := standardwebhooks.NewWebhook(secret)
	rc := &receiver{wh: wh, seen: map[string]bool{}, statuses: []int{503, 500}}
	app := httptest.NewServer(rc)
	defer app.Close()
	key, err := ParseWebhookSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	clock := func() time.Time { return now }
	hook := &Webhook{URL: app.URL, Secret: key, Now: time.Now}
	box := &Outbox{Dir: t.TempDir()}
	s := &Sender{Outbox: box, Templates: templates(t), Now: clock, Backoff: time.Second, MaxAttempts: 4,
		Channels: []Channel{&Email{Host: "127.0.0.1", Port: port, From: "notice@sbisec.example", TLS: "none"}, hook},
		Contacts: func(account string) Contact {
			switch account {
			case "A1":
				return Contact{Email: "taro@example.jp", Language: "ja"}
			case "OFF":
				return Contact{Email: "off@example.jp", Off: true}
			}
			return Contact{}
		}}
	hold, _ := Compose(ev(event.TypeOrder, "o1"), dec(event.ActionHold, "LIQUIDATION"), "JP, KDDI")
	if err := box.Put(hold); err != nil {
		t.Fatal(err)
	}
	box.Put(hold) // the same event again: one notice
	// Round 1: the mail goes, the app answers 503; round 2 (too early) does nothing; round 3: 500;
	// round 4: delivered.
	for i, step := range []time.Duration{0, 0, time.Second, 2 * time.Second} {
		now = now.Add(step)
		n, err := s.Flush(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int]int{3: 1}[i]; n != want {
			t.Fatalf("round %d delivered %d, want %d", i+1, n, want)
		}
	}
	mailbox.mu.Lock()
	if len(mailbox.msgs) != 1 || mailbox.to[0] != "taro@example.jp" {
		t.Fatalf("mailbox: %d messages to %v, want 1 to taro@example.jp (the mail is not sent again with the webhook's retries)", len(mailbox.msgs), mailbox.to)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(mailbox.msgs[0].Header.Get("Subject"))
	raw, _ := io.ReadAll(mailbox.msgs[0].Body)
	mailbox.mu.Unlock()
	if subject != "【SBI証券】ご注文・出金を保留しました" {
		t.Errorf("subject %q", subject)
	}
	if strings.Contains(string(raw), "http://") || strings.Contains(string(raw), "https://") {
		t.Errorf("the mail carries a link:\n%s", raw)
	}
	if len(rc.got) != 1 || rc.got[0]["type"] != "notice.hold" || rc.got[0]["data"].(map[string]any)["id"] != "ntc-o1" {
		t.Fatalf("webhook received %+v", rc.got)
	}

	// The same delivery again (a retry after a lost answer): refused by the receiver as seen.
	body := []byte(`{"type":"notice.hold"}`)
	req, _ := http.NewRequest("POST", app.URL, strings.NewReader(string(body)))
	ts := time.Now()
	req.Header.Set("webhook-id", "ntc-o1")
	req.Header.Set("webhook-timestamp", itoa(ts.Unix()))
	req.Header.Set("webhook-signature", hook.Sign("ntc-o1", ts, body))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("a replayed delivery: %v %v, want 401", resp, err)
	}
	// A tampered body fails the independent library's check.
	req, _ = http.NewRequest("POST", app.URL, strings.NewReader(`{"type":"notice.block"}`))
	req.Header.Set("webhook-id", "ntc-x")
	req.Header.Set("webhook-timestamp", itoa(ts.Unix()))
	req.Header.Set("webhook-signature", hook.Sign("ntc-x", ts, body))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("a tampered delivery: %v %v, want 401", resp, err)
	}

	// A customer with notices off gets a block, not a login notice.
	login, _ := Compose(&event.Event{ID: "l9", Type: event.TypeLogin, Account: "OFF", Time: t0, Result: "success"}, dec(event.ActionChallenge, "NEW_DEVICE"), "")
	block, _ := Compose(&event.Event{ID: "w9", Type: event.TypeWithdrawal, Account: "OFF", Time: t0, Amount: 900000}, dec(event.ActionBlock, "ACCOUNT_LOCKED"), "")
	box.Put(login)
	box.Put(block)
	if n, err := s.Flush(context.Background()); err != nil || n != 1 {
		t.Fatalf("notices off: %d delivered, %v; want the block only", n, err)
	}
	if last := rc.got[len(rc.got)-1]; last["type"] != "notice.block" {
		t.Fatalf("last webhook %+v", last)
	}

	// An account without an address: the mail can never go; the notice is on the dead-letter list.
	lost, _ := Compose(&event.Event{ID: "o7", Type: event.TypeOrder, Account: "NOBODY", Time: t0, Side: "buy", Symbol: "1556", Quantity: 100}, dec(event.ActionHold), "")
	box.Put(lost)
	s.Flush(context.Background())
	dead, err := box.Dead()
	if err != nil || len(dead) != 1 || dead[0].Notice.ID != "ntc-o7" || !strings.Contains(dead[0].Errors["email"], "no e-mail address") {
		t.Fatalf("dead letters %+v, %v", dead, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
