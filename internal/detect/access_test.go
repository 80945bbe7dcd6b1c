package detect

import (
	"fmt"
	"testing"

	"github.com/brokerguard/brokerguard/internal/event"
)

func TestTLSStack(t *testing.T) {
	for _, c := range []struct{ ua, want string }{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36", "chromium"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36 Edg/134.0", "chromium"},
		{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Mobile Safari/537.36", "chromium"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/134.0 Mobile/15E148 Safari/604.1", "apple"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15", "apple"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:139.0) Gecko/20100101 Firefox/139.0", "gecko"},
		{"python-requests/2.31", "python-requests/other"},
		{"BrokerApp/5.2 (iOS 17.4)", "brokerapp/ios"},
	} {
		if got := tlsStack(uaFamily(c.ua)); got != c.want {
			t.Errorf("tlsStack(%q) = %q, want %q", c.ua, got, c.want)
		}
	}
}

// process decodes and processes raw events, returning the decision of the last one.
func process(t *testing.T, e *Engine, raws ...string) event.Decision {
	t.Helper()
	var d event.Decision
	for _, raw := range raws {
		ev, err := event.Decode([]byte(raw))
		if err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		if out := e.Process(&ev); out.Decided {
			d = out.Decision
		}
	}
	return d
}

// A TLS fingerprint that Chromium browsers carry on every platform is no lie when a Chrome on a Mac or an
// Edge brings it (the stack is the same), but it is when the user agent claims Safari on an iPhone.
func TestUATLSMismatchByStack(t *testing.T) {
	const chromiumTLS = "t13d1516h2_8daaf6152771_02713d6af862"
	uas := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36 Edg/134.0",
		"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Mobile Safari/537.36",
	}
	login := func(id, acct, ua string) string {
		return fmt.Sprintf(`{"id":%q,"type":"login","time":"2025-03-03T10:00:00+09:00","account":%q,"result":"success","method":"password_otp","session":"s-%s","ip":"153.156.10.20","user_agent":%q,"tls":%q,"country":"JP","channel":"web"}`,
			id, acct, id, ua, chromiumTLS)
	}
	for _, c := range []struct {
		name, ua string
		want     bool
	}{
		{"edge on the chromium stack", uas[2], false},
		{"chrome on a mac on the chromium stack", uas[1], false},
		{"safari on an iphone claimed over the chromium stack", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1", true},
		{"firefox claimed over the chromium stack", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:139.0) Gecko/20100101 Firefox/139.0", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := New(Options{NoCampaign: true})
			if err != nil {
				t.Fatal(err)
			}
			var raws []string
			for i := 0; i < 60; i++ {
				raws = append(raws, login(fmt.Sprintf("l%d", i), fmt.Sprintf("B%d", i), uas[i%len(uas)]))
			}
			process(t, e, raws...)
			d := process(t, e, login("x", "V1", c.ua))
			if got := hasReason(d, "UA_TLS_MISMATCH"); got != c.want {
				t.Errorf("UA_TLS_MISMATCH raised: got %v, want %v (reasons %v)", got, c.want, d.Reasons)
			}
		})
	}
}

// A step-up passed in a session settles who is at the keyboard only where it was passed: the same cookie
// from a network the account never used still counts as new.
func TestVerifiedSessionDoesNotCoverAnotherNetwork(t *testing.T) {
	const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36"
	const tls = "t13d1516h2_8daaf6152771_02713d6af862"
	base := []string{
		`{"id":"s1","type":"snapshot","time":"2025-03-01T08:00:00+09:00","account":"A1","cash":500000,"holdings":[],"mfa":"sms_otp","notifications":true}`,
	}
	for i := 0; i < 5; i++ {
		base = append(base, fmt.Sprintf(`{"id":"h%d","type":"login","time":"2025-03-0%dT20:00:00+09:00","account":"A1","result":"success","method":"password_otp","session":"h%d","ip":"153.156.10.20","device":"dA1","user_agent":%q,"tls":%q,"country":"JP","channel":"web"}`, i, i+2, i, ua, tls))
	}
	// A login from abroad through a hosting network on a new device: challenged, so the session is verified.
	base = append(base, fmt.Sprintf(`{"id":"c1","type":"login","time":"2025-03-08T20:00:00+09:00","account":"A1","result":"success","method":"password_otp","session":"sv","ip":"45.76.10.10","device":"dNew","user_agent":%q,"tls":%q,"country":"SG","channel":"web"}`, ua, tls))
	order := func(id, ip string) string {
		return fmt.Sprintf(`{"id":%q,"type":"order","time":"2025-03-08T20:05:00+09:00","account":"A1","order_id":"o-%s","session":"sv","ip":%q,"device":"dNew","user_agent":%q,"tls":%q,"symbol":"7203","side":"buy","quantity":100,"price":2800,"account_type":"cash","channel":"web"}`, id, id, ip, ua, tls)
	}
	for _, c := range []struct {
		name, ip string
		want     bool
	}{
		{"the network that passed the step-up", "45.76.10.10", false},
		{"a network the account never used", "126.33.40.50", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := New(Options{NoCampaign: true})
			if err != nil {
				t.Fatal(err)
			}
			if d := process(t, e, base...); d.Action != event.ActionChallenge {
				t.Fatalf("login c1: got %v, want challenge", d.Action)
			}
			d := process(t, e, order("o1", c.ip))
			if got := hasReason(d, "NEW_ASN") || hasReason(d, "NEW_NETWORK"); got != c.want {
				t.Errorf("new network counted: got %v, want %v (reasons %v)", got, c.want, d.Reasons)
			}
		})
	}
}
