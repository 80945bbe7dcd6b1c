// Package notify tells a firm's customers what happened to their account, without a link to click:
// a login from a new device or place, a change of their details, an order or withdrawal held, an action
// blocked. Notices are composed from decisions, rendered from templates a firm can edit (Japanese first,
// then English), kept in an outbox on disk until delivered, and delivered by e-mail (SMTP) and by a
// signed webhook (Standard Webhooks: id, timestamp, HMAC-SHA256) to the firm's app, with retries and a
// dead-letter list.
package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/event"
)

// Kinds of notice.
const (
	KindLogin         = "login"          // a login from a new device or place
	KindAccountChange = "account_change" // e-mail, phone, password, bank account, MFA … changed
	KindHold          = "hold"           // an order or withdrawal held until the customer confirms
	KindBlock         = "block"          // an action blocked
)

// Notice is one message to one customer.
type Notice struct {
	ID      string    `json:"id"` // "ntc-" and the event's id: the same event never gives two notices
	Account string    `json:"account"`
	Kind    string    `json:"kind"`
	Time    time.Time `json:"time"`            // when it happened
	Place   string    `json:"place,omitempty"` // country and network, e.g. "JP, KDDI"; "" when unknown
	Device  string    `json:"device,omitempty"`
	Field   string    `json:"field,omitempty"`   // the detail changed (account_change)
	Subject string    `json:"subject,omitempty"` // what was held or blocked: "sell order of 1556 × 300"
	Reasons []string  `json:"reasons"`           // the decision's reasons, as codes
	// Required is set for blocks: they are sent even to customers who turned notices off.
	Required bool `json:"required"`
}

// Compose returns the notice a decision gives the customer, if any: a successful login with a takeover
// sign (a new device, country or network, …; detect.IsTakeoverSign), a change of the customer's
// details, an order or withdrawal held, any block. place says where the event came from.
func Compose(ev *event.Event, d event.Decision, place string) (Notice, bool) {
	n := Notice{ID: "ntc-" + ev.ID, Account: ev.Account, Time: ev.Time, Place: place}
	for _, r := range d.Reasons {
		n.Reasons = append(n.Reasons, r.Code)
	}
	switch {
	case d.Action == event.ActionBlock:
		n.Kind, n.Required = KindBlock, true
	case d.Action == event.ActionHold && (ev.Type == event.TypeOrder || ev.Type == event.TypeWithdrawal):
		n.Kind = KindHold
	case ev.Type == event.TypeProfileChange:
		n.Kind, n.Field = KindAccountChange, ev.Field
	case ev.Type == event.TypeLogin && ev.Result == "success" && slices.ContainsFunc(n.Reasons, detect.IsTakeoverSign):
		n.Kind = KindLogin
	default:
		return Notice{}, false
	}
	switch ev.Type {
	case event.TypeOrder:
		n.Subject = fmt.Sprintf("%s %s × %d", ev.Side, ev.Symbol, int64(ev.Quantity))
	case event.TypeWithdrawal:
		n.Subject = fmt.Sprintf("withdrawal ¥%.0f", ev.Amount)
	case event.TypeLogin:
		n.Subject = "login"
	case event.TypeProfileChange:
		n.Subject = "change of " + ev.Field
	}
	n.Device = deviceName(ev.UserAgent)
	return n, true
}

// deviceName names a client the way a customer knows it ("Chrome on Windows"), never the raw user
// agent, which may carry a URL.
func deviceName(ua string) string {
	if ua == "" {
		return ""
	}
	pick := func(pairs ...string) string {
		for i := 0; i < len(pairs); i += 2 {
			if strings.Contains(ua, pairs[i]) {
				return pairs[i+1]
			}
		}
		return ""
	}
	browser := pick("Edg/", "Edge", "OPR/", "Opera", "Firefox/", "Firefox", "CriOS", "Chrome", "Chrome/", "Chrome", "Safari/", "Safari",
		"okhttp", "an app", "Dalvik", "an app", "curl", "a script", "python", "a script")
	os := pick("iPhone", "iPhone", "iPad", "iPad", "Android", "Android", "Windows", "Windows", "Mac OS X", "macOS", "Linux", "Linux")
	switch {
	case browser != "" && os != "":
		return browser + " on " + os
	case browser != "":
		return browser
	case os != "":
		return os
	}
	return "an unknown client"
}

// Rendered is a notice in the customer's language.
type Rendered struct {
	Subject string
	Text    string
	HTML    string
}

//go:embed templates
var builtin embed.FS

// Templates render notices. A firm's directory holds <lang>/notice.txt (and optionally notice.html)
// with the blocks "subject" and "body"; languages it lacks come from the built-in ones.
type Templates struct {
	firm string
	txt  map[string]*template.Template
	loc  *time.Location
}

// LoadTemplates reads the templates of dir over the built-in ones ("" for the built-in only). firm is
// the firm's name as the customer knows it.
func LoadTemplates(dir, firm string, loc *time.Location) (*Templates, error) {
	if firm == "" {
		return nil, errors.New("notify: the firm's name is required")
	}
	if loc == nil {
		loc = time.FixedZone("JST", 9*3600)
	}
	t := &Templates{firm: firm, txt: map[string]*template.Template{}, loc: loc}
	for _, lang := range []string{"ja", "en"} {
		src, err := fs.ReadFile(builtin, "templates/"+lang+"/notice.txt")
		if err != nil {
			return nil, err
		}
		name := "built-in " + lang + "/notice.txt"
		if dir != "" {
			p := filepath.Join(dir, lang, "notice.txt")
			if b, err := os.ReadFile(p); err == nil {
				src, name = b, p
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("notify: templates: %w", err)
			}
		}
		tpl, err := template.New(name).Option("missingkey=error").Parse(string(src))
		if err != nil {
			return nil, fmt.Errorf("notify: template %s: %w", name, err)
		}
		if tpl.Lookup("subject") == nil || tpl.Lookup("body") == nil {
			return nil, fmt.Errorf("notify: template %s: define both \"subject\" and \"body\"", name)
		}
		t.txt[lang] = tpl
	}
	// A template that writes a link is refused at start, not at the first notice.
	for lang := range t.txt {
		for _, kind := range []string{KindLogin, KindAccountChange, KindHold, KindBlock} {
			if _, err := t.Render(Notice{ID: "ntc-check", Kind: kind, Time: time.Unix(0, 0), Place: "JP", Reasons: []string{"NEW_DEVICE"}}, lang); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

// link finds what a mail client would make clickable: a URL, a www. host, or a name with a dot and a
// common top-level domain.
var link = regexp.MustCompile(`(?i)(https?://|www\.|[a-z0-9-]+\.(com|net|org|jp|co|io|app|info|xyz|top|shop|online|site)\b)`)

// ErrLink is returned for a notice that would carry a link.
var ErrLink = errors.New("a notice must not carry a link")

// Render renders n in lang (ja or en; anything else is ja).
func (t *Templates) Render(n Notice, lang string) (Rendered, error) {
	tpl, ok := t.txt[lang]
	if !ok {
		tpl = t.txt["ja"]
	}
	data := map[string]any{
		"Firm": t.firm, "Kind": n.Kind, "When": n.Time.In(t.loc).Format("2006-01-02 15:04 MST"), "Place": orUnknown(n.Place, lang),
		"Device": n.Device, "Field": n.Field, "Subject": n.Subject, "Reasons": strings.Join(n.Reasons, ", "),
	}
	var subj, body bytes.Buffer
	if err := tpl.ExecuteTemplate(&subj, "subject", data); err != nil {
		return Rendered{}, fmt.Errorf("notify: render %s: %w", n.ID, err)
	}
	if err := tpl.ExecuteTemplate(&body, "body", data); err != nil {
		return Rendered{}, fmt.Errorf("notify: render %s: %w", n.ID, err)
	}
	r := Rendered{Subject: strings.TrimSpace(subj.String()), Text: strings.TrimLeft(body.String(), "\n")}
	if m := link.FindString(r.Subject + "\n" + r.Text); m != "" {
		return Rendered{}, fmt.Errorf("notify: %s: %w (%q)", n.ID, ErrLink, m)
	}
	var h strings.Builder
	h.WriteString("<!doctype html><html><body>")
	for _, para := range strings.Split(strings.TrimSpace(r.Text), "\n\n") {
		h.WriteString("<p>" + strings.ReplaceAll(html.EscapeString(para), "\n", "<br>") + "</p>")
	}
	h.WriteString("</body></html>")
	r.HTML = h.String()
	return r, nil
}

func orUnknown(s, lang string) string {
	if s != "" {
		return s
	}
	if lang == "en" {
		return "an unknown place"
	}
	return "不明な場所"
}
