package app

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/audit"
	"github.com/brokerguard/brokerguard/internal/config"
	"github.com/brokerguard/brokerguard/internal/detect"
	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/fault"
	"github.com/brokerguard/brokerguard/internal/httpapi"
	"github.com/brokerguard/brokerguard/internal/ingest"
	"github.com/brokerguard/brokerguard/internal/notify"
	"github.com/brokerguard/brokerguard/internal/profile"
	"github.com/brokerguard/brokerguard/internal/store"
)

// customerNotices returns the hook that queues a notice for each stored decision that gives one, the
// function that delivers the queue until its context ends, and the outbox; all nil without
// notices.firm.
func customerNotices(cfg config.Config, p *parts, log *slog.Logger) (func(*store.Batch), func(context.Context) error, *notify.Outbox, error) {
	nc := cfg.Notices
	if nc.Firm == "" {
		return nil, nil, nil, nil
	}
	tpl, err := notify.LoadTemplates(nc.Templates, nc.Firm, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	contacts, err := loadContacts(nc.Contacts)
	if err != nil {
		return nil, nil, nil, err
	}
	var channels []notify.Channel
	if nc.SMTP.Host != "" {
		password := nc.SMTP.Password
		if password == "" && nc.SMTP.PasswordFile != "" {
			b, err := config.ReadKeyFile(nc.SMTP.PasswordFile)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("notices.smtp.password_file: %w", err)
			}
			password = strings.TrimSpace(string(b))
		}
		port := nc.SMTP.Port
		if port == 0 {
			port = 587
		}
		channels = append(channels, &notify.Email{Host: nc.SMTP.Host, Port: port, Username: nc.SMTP.Username, Password: password, From: nc.SMTP.From, TLS: nc.SMTP.TLS})
	}
	if nc.Webhook.URL != "" {
		secret := nc.Webhook.Secret
		if secret == "" {
			b, err := config.ReadKeyFile(nc.Webhook.SecretFile)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("notices.webhook.secret_file: %w", err)
			}
			secret = string(b)
		}
		key, err := notify.ParseWebhookSecret(secret)
		if err != nil {
			return nil, nil, nil, err
		}
		channels = append(channels, &notify.Webhook{URL: nc.Webhook.URL, Secret: key, Now: time.Now})
	}
	box := &notify.Outbox{Dir: filepath.Join(cfg.DataDir, "notices")}
	accounts := p.engine.Accounts()
	sender := &notify.Sender{Outbox: box, Templates: tpl, Channels: channels, Now: time.Now, Log: log,
		Contacts: func(account string) notify.Contact {
			c := contacts[account]
			accounts.Peek(account, func(pr *profile.Profile) { c.Off = !pr.Notifications })
			return c
		}}
	committed := func(b *store.Batch) {
		for _, d := range b.Decisions {
			if !mayNotify(d) {
				continue
			}
			i := slices.IndexFunc(b.Events, func(r store.EventRecord) bool { return r.ID == d.ID })
			if i < 0 {
				continue
			}
			ev, err := event.DecodeStored(b.Events[i].Raw)
			if err != nil {
				continue
			}
			n, ok := notify.Compose(&ev, d, place(p, ev.IP))
			if !ok {
				continue
			}
			if err := box.Put(n); err != nil {
				log.Error("notice not queued", "notice", n.ID, "err", err)
			}
		}
	}
	every := nc.Every
	if every <= 0 {
		every = 2 * time.Second
	}
	log.Info("customer notices on", "channels", len(channels), "contacts", len(contacts), "outbox", box.Dir)
	return committed, func(ctx context.Context) error { return sender.Run(ctx, every) }, box, nil
}

// noticeAnswers serves POST /v1/notices/{id}/answer: a "no" is a fraud report through the ingest
// service, a "yes" a notice.confirmed record in the audit trail.
type noticeAnswers struct{ a *notify.Answers }

func newNoticeAnswers(box *notify.Outbox, svc *ingest.Service, trail *audit.Trail, st store.Store, now func() time.Time) noticeAnswers {
	return noticeAnswers{&notify.Answers{Outbox: box, Now: now,
		Report: func(ctx context.Context, raw []byte) (bool, error) {
			res, err := svc.Ingest(ctx, [][]byte{raw})
			if err != nil {
				return false, err
			}
			switch r := res[0]; {
			case r.Status == ingest.StatusDuplicate:
				return true, nil
			case r.Status == ingest.StatusRejected && r.Error != nil:
				return false, fault.Errorf(fault.ErrInvalid, "the fraud report was refused: %s", r.Error.Error())
			}
			return false, nil
		},
		Label: func(ctx context.Context, actor string, n notify.Notice) (bool, error) {
			target := "notice:" + n.ID
			seen, err := st.Audit(ctx, store.AuditQuery{Target: target, Action: noticeConfirmed, Limit: 1})
			if err != nil {
				return false, err
			}
			if len(seen) > 0 {
				return true, nil
			}
			_, err = trail.Record(ctx, actor, noticeConfirmed, target, "the customer confirmed it was them",
				map[string]any{"account": n.Account, "kind": n.Kind, "time": n.Time}, nil)
			return false, err
		}}}
}

// noticeConfirmed is the audit action of a customer's "it was me": a label for learning.
const noticeConfirmed = audit.ActionNoticeConfirmed

func (na noticeAnswers) AnswerNotice(ctx context.Context, id, answer, actor string) (httpapi.NoticeAnswer, error) {
	a, err := na.a.Take(ctx, id, answer, actor)
	if err != nil {
		return httpapi.NoticeAnswer{}, err
	}
	status := "recorded"
	if a.Duplicate {
		status = "duplicate"
	}
	return httpapi.NoticeAnswer{Notice: a.Notice, Account: a.Account, Answer: a.Answer, FraudReport: a.FraudReport, Status: status}, nil
}

// mayNotify says whether a decision may give a notice (see notify.Compose): only those events are
// decoded again.
func mayNotify(d event.Decision) bool {
	switch {
	case d.Action == event.ActionBlock || d.Action == event.ActionHold, d.Type == event.TypeProfileChange.String():
		return true
	case d.Type == event.TypeLogin.String():
		return slices.ContainsFunc(d.Reasons, func(r event.Reason) bool { return detect.IsTakeoverSign(r.Code) })
	}
	return false
}

// place says where an address is, as a customer can read it: country and network.
func place(p *parts, ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil || p.ip == nil {
		return ""
	}
	info := p.ip.Lookup(addr)
	return strings.Trim(strings.Join(slices.DeleteFunc([]string{info.Country, info.Org}, func(s string) bool { return s == "" }), ", "), " ")
}

// loadContacts reads account,email,language rows; a header row (account,…) is skipped.
func loadContacts(path string) (map[string]notify.Contact, error) {
	out := map[string]notify.Contact{}
	if path == "" {
		return out, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("notices.contacts: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("notices.contacts %s: %w", path, err)
		}
		if line == 1 && strings.EqualFold(strings.TrimSpace(rec[0]), "account") {
			continue
		}
		if len(rec) < 2 || rec[0] == "" || !strings.Contains(rec[1], "@") {
			return nil, fmt.Errorf("notices.contacts %s line %d: want account,email[,language]", path, line)
		}
		c := notify.Contact{Email: strings.TrimSpace(rec[1]), Language: "ja"}
		if len(rec) > 2 && strings.TrimSpace(rec[2]) != "" {
			c.Language = strings.TrimSpace(rec[2])
		}
		out[strings.TrimSpace(rec[0])] = c
	}
}
