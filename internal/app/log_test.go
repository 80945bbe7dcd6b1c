package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/brokerguard/brokerguard/internal/config"
)

// TestLoggerMasksPersonalData logs personal values under the keys that name them and inside messages
// and errors, in both formats, and checks that only their pseudonyms reach the output, while the
// operator's settings and text that only looks like an address stay as they are.
func TestLoggerMasksPersonalData(t *testing.T) {
	for _, tc := range []struct {
		name   string
		msg    string
		args   []any
		hidden []string // must not appear
		shown  []string // must appear
	}{
		{"account", "m", []any{"account", "A43948761"}, []string{"A43948761"}, []string{"acct:"}},
		{"account in a group", "m", []any{slog.Group("event", "account", "A43948761")}, []string{"A43948761"}, []string{"acct:"}},
		{"accounts", "m", []any{"accounts", []string{"A1x", "B2x"}}, []string{"A1x", "B2x"}, []string{"acct:"}},
		{"a count of accounts", "m", []any{"accounts", 20000}, nil, []string{"20000"}},
		{"a numeric account", "m", []any{"account", 43948761}, []string{"43948761"}, []string{"acct:"}},
		{"ip", "m", []any{"ip", "203.0.113.9"}, []string{"203.0.113.9"}, []string{"ip:"}},
		{"device", "m", []any{"device_id", "dev-77"}, []string{"dev-77"}, []string{"dev:"}},
		{"session", "m", []any{"Session", "sess-77"}, []string{"sess-77"}, []string{"sess:"}},
		{"email", "m", []any{"email", "taro@example.jp"}, []string{"taro@example.jp"}, []string{"email:"}},
		{"IPv4 in the message", "http: TLS handshake error from 198.51.100.7:51234: EOF", nil, []string{"198.51.100.7"}, []string{"ip:", ":51234: EOF"}},
		{"IPv6 in an error", "m", []any{"err", errors.New("dial [2001:db8::1f]:5432: refused")}, []string{"2001:db8::1f"}, []string{"[ip:", "]:5432: refused"}},
		{"mapped IPv4", "m", []any{"why", "from ::ffff:192.0.2.1"}, []string{"192.0.2.1"}, []string{"from ip:"}},
		{"listen address", "serving", []any{"addr", "http://127.0.0.1:8080", "store", "postgres postgres://u@10.1.2.3:5432/db"}, nil,
			[]string{"http://127.0.0.1:8080", "10.1.2.3:5432"}},
		{"not addresses", "m", []any{"time", "2025-04-11T09:00:01.250+09:00", "version", "1.2.3", "n", 12, "pair", "ab:cd", "big", "300.1.1.1"}, nil,
			[]string{"2025-04-11T09:00:01.250+09:00", "1.2.3", "ab:cd", "300.1.1.1"}},
	} {
		for _, format := range []string{"text", "json"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				var buf bytes.Buffer
				cfg := config.Default()
				cfg.Log.Level, cfg.Log.Format = "debug", format
				newLogger(&buf, cfg).Debug(tc.msg, tc.args...)
				out := buf.String()
				for _, h := range tc.hidden {
					if strings.Contains(out, h) {
						t.Errorf("got %q, want no %q", out, h)
					}
				}
				for _, s := range tc.shown {
					if !strings.Contains(out, s) {
						t.Errorf("got %q, want %q in it", out, s)
					}
				}
			})
		}
	}
	if a, b := pseudonym("acct", "A1"), pseudonym("acct", "A1"); a != b || a == pseudonym("acct", "A2") || a == pseudonym("dev", "A1") {
		t.Errorf("pseudonyms: got %s %s, want one per value and kind", a, b)
	}
}

// TestLogsHoldNoPersonalData runs serve (events over loopback, an unlock, late and bad events, a
// restart that rebuilds from the store) and replay (the sample with a bad line) with logging at debug
// level, and checks that no account id, IP address, device id, session id, destination or e-mail
// address of the input appears in what they write to standard error.
func TestLogsHoldNoPersonalData(t *testing.T) {
	dir := t.TempDir()
	sample, err := os.ReadFile("../../testdata/sample.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	const mail = "taro.yamada@example.jp"
	extra := []string{
		// a takeover from an IPv6 address, reported by the customer (who leaves an e-mail address): locked
		`{"id":"p1","type":"login","time":"2025-03-08T10:00:00+09:00","account":"PRIV-7731","result":"success","method":"password","session":"sess-priv-7731","ip":"2001:db8:77::31","device":"dev-priv-7731","country":"JP","channel":"web"}`,
		`{"id":"p2","type":"withdrawal","time":"2025-03-08T10:01:00+09:00","account":"PRIV-7731","session":"sess-priv-7731","ip":"2001:db8:77::31","device":"dev-priv-7731","amount":90000,"destination":"bank-priv-7731"}`,
		`{"id":"p3","type":"login","time":"2025-03-08T10:02:00+09:00","account":"PRIV-0001","result":"failure","failure":"bad_password","method":"password","ip":"198.51.100.77"}`,
		`{"id":"p4","type":"fraud_report","time":"2025-03-08T11:00:00+09:00","account":"PRIV-7731","channel":"phone","note":"call back at ` + mail + `"}`,
	}
	late := `{"id":"p5","type":"login","time":"2025-03-08T09:00:00+09:00","account":"PRIV-LATE-5","result":"success","method":"password","session":"sess-late-5","ip":"192.0.2.55","device":"dev-late-5"}`
	bad := `{"id":"p6","type":"login","time":"yesterday","account":"PRIV-BAD-6","result":"success","method":"password","session":"sess-bad-6","ip":"192.0.2.66"}`
	input := string(sample) + strings.Join(append(extra, late, bad), "\n") + "\n"
	personal := personalValues(t, input)
	personal = append(personal, mail)

	cfgPath := filepath.Join(dir, "brokerguard.yaml")
	var logs []string
	for _, format := range []string{"json", "text"} {
		if err := os.WriteFile(cfgPath, []byte("log:\n  level: debug\n  format: "+format+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(dir, "serve-"+format)

		addr, errb, stop := serveForTest(t, "--data-dir", data, "--config", cfgPath)
		keyb, err := os.ReadFile(filepath.Join(data, "api-key"))
		if err != nil {
			stop()
			t.Fatal(err)
		}
		key := strings.TrimSpace(string(keyb))
		call := func(method, path, ctype, body string, want int) {
			t.Helper()
			req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != want {
				t.Errorf("%s %s: got %d, want %d (%s)", method, path, res.StatusCode, want, b)
			}
		}
		call("POST", "/v1/events", "application/x-ndjson", string(sample)+strings.Join(extra, "\n")+"\n", http.StatusOK)
		call("POST", "/v1/events", "application/json", late, http.StatusUnprocessableEntity)
		call("POST", "/v1/events", "application/json", bad, http.StatusUnprocessableEntity)
		call("POST", "/v1/accounts/PRIV-7731/unlock", "application/json", `{"reason":"customer verified by phone"}`, http.StatusOK)
		call("POST", "/v1/accounts/PRIV-7731/unlock", "application/json", `{"reason":"again"}`, http.StatusConflict)
		call("GET", "/v1/decisions?account=PRIV-7731&limit=5", "", "", http.StatusOK)
		stop()
		logs = append(logs, errb.String())

		// A restart rebuilds the state from the store.
		_, errb, stop = serveForTest(t, "--data-dir", data, "--config", cfgPath)
		stop()
		logs = append(logs, errb.String())
	}
	if !strings.Contains(logs[0], `"msg":"serving"`) || !strings.Contains(logs[3], "msg=\"state rebuilt from the store\"") {
		t.Fatalf("the servers did not log at debug level in both formats:\n%s\n%s", logs[0], logs[3])
	}

	logPath := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(logPath, []byte(input), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := run(t, "replay", "--events", logPath, "--config", cfgPath, "--data-dir", filepath.Join(dir, "replay"),
		"--decisions", filepath.Join(dir, "d.jsonl"), "--alerts", filepath.Join(dir, "a.jsonl"))
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "2 errors") {
		t.Errorf("replay did not reject the late and the bad line:\n%s", errOut)
	}
	logs = append(logs, errOut)

	all := strings.Join(logs, "\n")
	for _, v := range personal {
		if loc := wordIndex(all, v); loc >= 0 {
			t.Errorf("the logs hold %q: got %q, want no personal data", v, lineAt(all, loc))
		}
	}
}

// personalValues returns the account ids, IP addresses, device and session ids and destinations of
// the events in a JSON Lines text, longest first.
func personalValues(t *testing.T, jsonl string) []string {
	t.Helper()
	seen := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSpace(jsonl), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		for _, k := range []string{"account", "ip", "device", "session", "destination"} {
			if s, ok := m[k].(string); ok && s != "" {
				seen[s] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	if len(out) < 20 {
		t.Fatalf("got %d personal values in the input, want at least 20: %v", len(out), out)
	}
	return out
}

// wordIndex returns where v occurs in s as a whole word (not inside a longer id or a hex pseudonym),
// or -1.
func wordIndex(s, v string) int {
	re := regexp.MustCompile(`(^|[^A-Za-z0-9_.:-])` + regexp.QuoteMeta(v) + `($|[^A-Za-z0-9_-])`)
	if loc := re.FindStringIndex(s); loc != nil {
		return loc[0]
	}
	return -1
}

func lineAt(s string, i int) string {
	start := strings.LastIndexByte(s[:i], '\n') + 1
	end := strings.IndexByte(s[i:], '\n')
	if end < 0 {
		return s[start:]
	}
	return s[start : i+end]
}
