package app

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"sync"
)

// The logs carry no personal data: no account id, IP address, device id, session id, e-mail address or
// payee. Call sites leave such values out; maskPersonal is the net under them, in every logger that
// newLogger makes (and so in the HTTP server's own error log). It replaces the value of an attribute
// whose key names personal data with a pseudonym, and every IP address in any other text (a message,
// an error) with the pseudonym of the address. A pseudonym is the first 12 hex digits of an HMAC-SHA256
// under a key drawn at random once per process: the lines of one run that concern the same account
// can be told apart from the others, but no one can recompute the pseudonym of an account id (they
// are short enough to try them all against an unkeyed hash), and no pseudonym links two runs.

// personalKeys maps the attribute keys that carry personal data to the prefix of their pseudonym.
var personalKeys = map[string]string{
	"account": "acct", "account_id": "acct", "accounts": "acct", "login": "acct", "user": "acct", "customer": "acct",
	"ip": "ip", "ips": "ip", "client_ip": "ip", "remote": "ip", "remote_addr": "ip", "remote_ip": "ip", "peer": "ip",
	"device": "dev", "device_id": "dev", "devices": "dev",
	"session": "sess", "session_id": "sess", "sessions": "sess",
	"email": "email", "e-mail": "email", "mail": "email",
	"payee": "payee", "bank_account": "payee",
}

// settingKeys are the attributes that carry the operator's settings, not a customer's data: the
// server's listen address, the store (a PostgreSQL host), files. They are left as they are.
var settingKeys = map[string]bool{"addr": true, "store": true, "ipdb": true, "key_file": true}

var (
	logKeyOnce sync.Once
	logKey     []byte
)

// pseudonym returns "prefix:" and the first 12 hex digits of the keyed hash of v.
func pseudonym(prefix, v string) string {
	logKeyOnce.Do(func() {
		logKey = make([]byte, 32)
		if _, err := rand.Read(logKey); err != nil {
			panic("app: no randomness for the log key: " + err.Error())
		}
	})
	m := hmac.New(sha256.New, logKey)
	m.Write([]byte(prefix))
	m.Write([]byte{0})
	m.Write([]byte(v))
	return prefix + ":" + hex.EncodeToString(m.Sum(nil))[:12]
}

// ipLike finds the candidates for IP addresses in text: dotted quads, and runs of hex digits with at
// least two colons (IPv6, checked by netip before they are replaced).
var ipLike = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*:[0-9A-Fa-f.]*`)

// maskIPs replaces each IP address in s with its pseudonym.
func maskIPs(s string) string {
	if !strings.ContainsAny(s, ".:") {
		return s
	}
	return ipLike.ReplaceAllStringFunc(s, func(m string) string {
		a, err := netip.ParseAddr(m)
		if err != nil || !strings.ContainsAny(m, "0123456789abcdefABCDEF") {
			return m
		}
		return pseudonym("ip", a.Unmap().String())
	})
}

// maskPersonal is the ReplaceAttr of newLogger's handlers (see the comment at the top of the file).
func maskPersonal(_ []string, a slog.Attr) slog.Attr {
	if prefix, ok := personalKeys[strings.ToLower(a.Key)]; ok {
		switch a.Value.Kind() {
		case slog.KindString, slog.KindAny, slog.KindGroup, slog.KindLogValuer:
			a.Value = maskValue(prefix, a.Value)
		default: // a number under a plural key ("accounts") is a count; under another, an id
			if !strings.HasSuffix(a.Key, "s") {
				a.Value = maskValue(prefix, a.Value)
			}
		}
		return a
	}
	if settingKeys[a.Key] {
		return a
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); maskIPs(s) != s {
			a.Value = slog.StringValue(maskIPs(s))
		}
	case slog.KindAny:
		var s string
		switch v := a.Value.Any().(type) {
		case error:
			s = v.Error()
		case fmt.Stringer:
			s = v.String()
		case []string:
			s = strings.Join(v, " ")
		default:
			return a
		}
		if m := maskIPs(s); m != s {
			a.Value = slog.StringValue(m)
		}
	}
	return a
}

// maskValue is the pseudonym of a personal value: of each element of a list of strings, of the text
// of anything else. An empty value stays empty (it says that the value was absent).
func maskValue(prefix string, v slog.Value) slog.Value {
	if v.Kind() == slog.KindAny {
		if l, ok := v.Any().([]string); ok {
			out := make([]string, len(l))
			for i, s := range l {
				out[i] = pseudonym(prefix, s)
			}
			return slog.AnyValue(out)
		}
	}
	s := v.String()
	if s == "" {
		return v
	}
	return slog.StringValue(pseudonym(prefix, s))
}
