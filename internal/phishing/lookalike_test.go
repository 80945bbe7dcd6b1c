package phishing

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/idna"
)

func testMatcher(t testing.TB) *Matcher {
	t.Helper()
	m, err := NewMatcher(MatcherConfig{Domains: []string{"sbisec.co.jp"}, Brands: []string{"sbisec", "sbi証券"}, Allow: []string{"sbisec-partner.example"}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatchExamples(t *testing.T) {
	m := testMatcher(t)
	cyr, _ := idna.ToASCII("ѕbisec.com") // Cyrillic dze
	found := []struct {
		name      string
		technique string
	}{
		{"sbisec.com", "other_suffix"},
		{"sbisec-login.com", "added_words"},
		{"secure-sbisec.net", "added_words"},
		{"sbiseclogin.top", "added_words"},
		{"sbisce.com", "typo"},
		{"sbixec.jp", "typo"},
		{cyr, "homoglyph"},
		{"sbisec.co.jp.verify-account.top", "brand_subdomain"},
		{"sbisec-mypage.pages.dev", "free_hosting"},
		{"sbi証券.com", "other_suffix"},
		{"*.sbisec-jp.shop", "added_words"},
	}
	for _, tt := range found {
		f, ok := m.Match(tt.name)
		if !ok || !slices.Contains(f.Techniques, tt.technique) {
			t.Errorf("Match(%q) = %+v, %v; want found by %s", tt.name, f, ok, tt.technique)
		}
	}
	if f, _ := m.Match(cyr); !slices.Contains(f.Techniques, "idn") || f.Unicode != "ѕbisec.com" || f.Score < 90 {
		t.Errorf("homoglyph finding %+v: want idn, the name as shown, a score of 90 or more", f)
	}
	for _, name := range []string{"sbisec.co.jp", "www.sbisec.co.jp", "m.sbisec.co.jp.", "api.sbisec-partner.example", "rakuten-sec.co.jp",
		"monex.co.jp", "sbishinseibank.co.jp", "example.com", "sec.gov", "com", "", "sbi.jp"} {
		if f, ok := m.Match(name); ok {
			t.Errorf("Match(%q) found %+v; want nothing", name, f)
		}
	}
	if _, err := NewMatcher(MatcherConfig{Brands: []string{"ab"}}); err == nil {
		t.Error("a 2-letter brand was accepted")
	}
	if _, err := NewMatcher(MatcherConfig{Domains: []string{"not a domain"}}); err == nil {
		t.Error("a domain with a space was accepted")
	}
}

// The labelled lists below come from rules written for this test, apart from the matcher: what
// phishing kits register (typos a hand makes, look-alike letters from other scripts, words of a login
// page, other suffixes, the brand under an attacker's domain or a free host) and what a CT log holds
// otherwise (made-up names, other brokers, the firm's own hosts, partners).

var lookTLDs = []string{"com", "net", "jp", "co", "info", "xyz", "top", "shop", "online", "site", "co.jp", "ne.jp", "asia", "click"}
var lookWords = []string{"login", "secure", "verify", "account", "support", "update", "mypage", "jp", "online", "member", "auth",
	"info", "web", "app", "service", "kabu", "trade", "center"}
var hosts = []string{"pages.dev", "netlify.app", "web.app", "github.io", "vercel.app", "firebaseapp.com", "herokuapp.com", "azurewebsites.net"}
var nearKeys = map[byte]string{'s': "adwxz", 'b': "vghn", 'i': "ujko", 'e': "wrds", 'c': "xdfv"}
var lookAlikeLetters = map[rune][]string{'s': {"ѕ"}, 'i': {"і", "ı"}, 'e': {"е", "é"}, 'c': {"с", "ϲ"}, 'b': {"Ь"}}

func lookalikes(r *rand.Rand) []string {
	const b = "sbisec"
	var typos []string
	for i := range len(b) {
		typos = append(typos, b[:i]+b[i+1:])            // a letter left out
		typos = append(typos, b[:i]+string(b[i])+b[i:]) // a letter twice
		for _, k := range nearKeys[b[i]] {
			typos = append(typos, b[:i]+string(k)+b[i+1:]) // the key beside it
		}
		if i+1 < len(b) && b[i] != b[i+1] {
			typos = append(typos, b[:i]+string(b[i+1])+string(b[i])+b[i+2:]) // two letters swapped
		}
	}
	var out []string
	tld := func() string { return lookTLDs[r.IntN(len(lookTLDs))] }
	for _, ty := range typos {
		if ty == b {
			continue
		}
		out = append(out, ty+"."+tld(), ty+"-"+lookWords[r.IntN(len(lookWords))]+"."+tld())
	}
	for i, ch := range b {
		for _, alt := range lookAlikeLetters[ch] {
			u := b[:i] + alt + b[i+1:]
			for range 3 {
				a, err := idna.ToASCII(u + "." + tld())
				if err == nil {
					out = append(out, a)
				}
			}
		}
	}
	for range 3 {
		for _, w := range lookWords {
			out = append(out, b+"-"+w+"."+tld(), w+"-"+b+"."+tld(), b+w+"."+tld(), b+"-"+w+"."+hosts[r.IntN(len(hosts))])
		}
	}
	for _, s := range lookTLDs {
		if s != "co.jp" { // the firm's own
			out = append(out, b+"."+s)
		}
	}
	for range 100 {
		out = append(out, b+".co.jp."+made(r)+"."+tld(), "www-"+b+"."+made(r)+"."+tld(), b+"."+made(r)+"-"+lookWords[r.IntN(len(lookWords))]+"."+tld())
	}
	for _, h := range hosts {
		out = append(out, b+"."+h, b+"-jp."+h)
	}
	for _, s := range []string{"com", "jp", "net", "shop"} {
		for _, u := range []string{"sbi証券", "sbi証券-login", "sbi証券ログイン", "ｓｂｉｓｅｃ"} {
			if a, err := idna.ToASCII(u + "." + s); err == nil {
				out = append(out, a)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// made returns a made-up pronounceable label.
func made(r *rand.Rand) string {
	const cons, vows = "bcdfghjklmnprstvwyz", "aeiou"
	var s strings.Builder
	for range 2 + r.IntN(4) {
		s.WriteByte(cons[r.IntN(len(cons))])
		s.WriteByte(vows[r.IntN(len(vows))])
		if r.IntN(4) == 0 {
			s.WriteByte(cons[r.IntN(len(cons))])
		}
	}
	return s.String()
}

func benign(r *rand.Rand) []string {
	out := []string{"sbisec.co.jp", "www.sbisec.co.jp", "site0.sbisec.co.jp", "m.sbisec.co.jp", "api.sbisec-partner.example",
		"rakuten-sec.co.jp", "monex.co.jp", "matsui.co.jp", "kabu.com", "nomura.co.jp", "smbcnikko.co.jp", "daiwa.jp", "sbishinseibank.co.jp",
		"sbigroup.co.jp", "secom.co.jp", "basic.jp", "sbi-sonpo.co.jp", "sec.gov"}
	words := []string{"mail", "shop", "news", "blog", "cloud", "store", "auth", "api", "cdn", "app", "portal", "www", "dev", "static", "img"}
	for len(out) < 5200 {
		name := made(r)
		switch r.IntN(4) {
		case 0:
			name = words[r.IntN(len(words))] + "." + name
		case 1:
			name += "-" + made(r)
		}
		out = append(out, name+"."+lookTLDs[r.IntN(len(lookTLDs))])
	}
	return out
}

// TestPrecisionRecall measures the matcher on at least 500 lookalike and 5,000 benign names.
func TestPrecisionRecall(t *testing.T) {
	m := testMatcher(t)
	r := rand.New(rand.NewPCG(7, 11))
	look, ok := lookalikes(r), benign(r)
	if len(look) < 500 || len(ok) < 5000 {
		t.Fatalf("%d lookalike and %d benign names; want 500 and 5,000", len(look), len(ok))
	}
	var tp, fn, fp int
	var missed, wrong []string
	for _, n := range look {
		if _, found := m.Match(n); found {
			tp++
		} else {
			fn++
			missed = append(missed, n)
		}
	}
	for _, n := range ok {
		if f, found := m.Match(n); found {
			fp++
			wrong = append(wrong, fmt.Sprintf("%s (%v)", n, f.Techniques))
		}
	}
	precision, recall := float64(tp)/float64(tp+fp), float64(tp)/float64(tp+fn)
	t.Logf("%d lookalikes, %d benign: recall %.3f (%d missed), precision %.3f (%d false)", len(look), len(ok), recall, fn, precision, fp)
	t.Logf("missed, first 15: %v", missed[:min(15, len(missed))])
	t.Logf("false, first 15: %v", wrong[:min(15, len(wrong))])
	if recall < 0.9 || precision < 0.95 {
		t.Errorf("recall %.3f, precision %.3f; want at least 0.9 and 0.95", recall, precision)
	}
}

func BenchmarkMatch(b *testing.B) {
	m := testMatcher(b)
	names := benign(rand.New(rand.NewPCG(1, 2)))
	b.ResetTimer()
	for i := range b.N {
		m.Match(names[i%len(names)])
	}
}
