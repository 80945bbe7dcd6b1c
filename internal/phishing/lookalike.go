// Package phishing finds the sites that imitate a firm before its customers reach them: names that look
// like the firm's brands and domains (typos, keyboard neighbours, homoglyphs and IDN, added words,
// other public suffixes, subdomains of free hosting), found in Certificate Transparency logs as the
// sites' certificates are issued.
package phishing

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
	"golang.org/x/text/unicode/norm"
)

// MatcherConfig names what a firm's customers know: its domains and the words of its brand.
type MatcherConfig struct {
	// Domains are the firm's own registrable domains (sbisec.co.jp); names under them are never found.
	Domains []string
	// Brands are the words a phishing name copies (sbisec, sbi証券). Empty: the first label of each domain.
	Brands []string
	// Allow are partners' and other known-good domains, never found (a name equal to or under one).
	Allow []string
}

// Matcher finds lookalike names. It is safe for concurrent use.
type Matcher struct {
	own    []string // own and allowed domains, ASCII, lower case
	brands []brand
}

type brand struct {
	word     string // as configured, lower case
	skeleton string // what it looks like: see skeleton
	compact  string // the skeleton without hyphens
}

// Finding is a name that imitates a brand.
type Finding struct {
	Name       string   `json:"name"`    // the name as found (ASCII; IDN in punycode)
	Unicode    string   `json:"unicode"` // the name as a browser shows it
	Brand      string   `json:"brand"`
	Score      int      `json:"score"`      // 0..100
	Techniques []string `json:"techniques"` // homoglyph, idn, typo, keyboard, added_words, other_suffix, brand_subdomain, free_hosting
}

// NewMatcher checks the configuration.
func NewMatcher(c MatcherConfig) (*Matcher, error) {
	m := &Matcher{}
	for _, d := range append(append([]string{}, c.Domains...), c.Allow...) {
		a, err := toASCII(d)
		if err != nil || !strings.Contains(a, ".") {
			return nil, fmt.Errorf("phishing: domain %q is not a domain name", d)
		}
		m.own = append(m.own, a)
	}
	words := c.Brands
	if len(words) == 0 {
		for _, d := range c.Domains {
			a, _ := toASCII(d)
			reg, err := publicsuffix.EffectiveTLDPlusOne(a)
			if err != nil {
				return nil, fmt.Errorf("phishing: domain %q has no registrable part: %v", d, err)
			}
			u, _ := idna.ToUnicode(reg)
			words = append(words, strings.SplitN(u, ".", 2)[0])
		}
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("phishing: give the firm's domains or brands")
	}
	for _, w := range words {
		w = strings.ToLower(strings.TrimSpace(w))
		if utf8.RuneCountInString(w) < 3 {
			return nil, fmt.Errorf("phishing: brand %q is too short to match names on (3 characters at least)", w)
		}
		sk := skeleton(w)
		m.brands = append(m.brands, brand{word: w, skeleton: sk, compact: strings.ReplaceAll(sk, "-", "")})
	}
	return m, nil
}

func toASCII(name string) (string, error) {
	name = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	return idna.Lookup.ToASCII(name)
}

// freeHostingWords mark a private public suffix (PSL private section) as hosting anyone's page:
// names under such suffixes are checked label by label like registrable domains.
func isPrivateSuffix(name string) bool {
	_, icann := publicsuffix.PublicSuffix(name)
	return !icann
}

// loginWords are what phishing names add to a brand.
var loginWords = []string{"login", "logon", "signin", "secure", "security", "verify", "account", "auth", "update", "support",
	"mypage", "member", "web", "online", "jp", "japan", "official", "service", "help", "confirm", "check", "portal"}

// Match reports whether name imitates one of the brands, and how.
func (m *Matcher) Match(name string) (Finding, bool) {
	name = strings.TrimPrefix(strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), "."), "*.")
	// A name that IDNA's lookup rules refuse (upper case or compatibility characters inside a
	// punycode label) is still what a certificate can name and some browsers show: read it raw.
	ascii, err := idna.Lookup.ToASCII(name)
	if err != nil {
		ascii, err = idna.Punycode.ToASCII(name)
	}
	if err != nil || !strings.Contains(ascii, ".") {
		return Finding{}, false
	}
	for _, d := range m.own {
		if ascii == d || strings.HasSuffix(ascii, "."+d) {
			return Finding{}, false
		}
	}
	uni, err := idna.Punycode.ToUnicode(ascii)
	if err != nil {
		uni = ascii
	}
	suffix, _ := publicsuffix.PublicSuffix(ascii)
	rest := strings.TrimSuffix(ascii, "."+suffix)
	if rest == ascii || rest == "" {
		return Finding{}, false
	}
	labels := strings.Split(rest, ".")
	var ulabels []string
	for _, l := range labels {
		u, err := idna.Punycode.ToUnicode(l)
		if err != nil {
			u = l
		}
		ulabels = append(ulabels, u)
	}
	free := isPrivateSuffix(ascii)
	best := Finding{}
	for i := len(ulabels) - 1; i >= 0; i-- {
		registrable := i == len(ulabels)-1
		f, ok := m.matchLabel(ulabels[i], labels[i])
		if !ok {
			continue
		}
		if !registrable {
			f.Techniques = append(f.Techniques, "brand_subdomain")
		} else if slices.Contains(f.Techniques, "exact") {
			f.Techniques = append(f.Techniques, "other_suffix")
		}
		if free {
			f.Techniques = append(f.Techniques, "free_hosting")
			f.Score += 5
		}
		if f.Score > best.Score {
			best = f
		}
	}
	if best.Score == 0 {
		return Finding{}, false
	}
	// Words of a login page anywhere in the name add to the evidence.
	for _, w := range loginWords {
		if strings.Contains(rest, w) && !slices.Contains(best.Techniques, "added_words") {
			best.Score += 5
			break
		}
	}
	best.Techniques = slices.DeleteFunc(best.Techniques, func(s string) bool { return s == "exact" })
	slices.Sort(best.Techniques)
	best.Techniques = slices.Compact(best.Techniques)
	best.Name, best.Unicode, best.Score = ascii, uni, min(best.Score, 100)
	return best, true
}

// matchLabel compares one label (Unicode, and as written in ASCII) with every brand.
func (m *Matcher) matchLabel(ulabel, alabel string) (Finding, bool) {
	idn := strings.HasPrefix(alabel, "xn--")
	sk := skeleton(ulabel)
	compact := strings.ReplaceAll(sk, "-", "")
	tokens := strings.Split(sk, "-")
	var best Finding
	consider := func(b brand, score int, techniques ...string) {
		if idn {
			techniques = append(techniques, "idn")
		}
		if score > best.Score {
			best = Finding{Brand: b.word, Score: score, Techniques: techniques}
		}
	}
	for _, b := range m.brands {
		switch {
		case ulabel == b.word || strings.ReplaceAll(ulabel, "-", "") == strings.ReplaceAll(b.word, "-", ""):
			consider(b, 85, "exact")
		case sk == b.skeleton || compact == b.compact:
			consider(b, 95, "homoglyph")
		case slices.Contains(tokens, b.compact) || slices.Contains(tokens, b.skeleton) || containsTokens(tokens, strings.Split(b.skeleton, "-")):
			consider(b, 85, "added_words")
		case utf8.RuneCountInString(b.compact) >= 5 && (strings.HasPrefix(compact, b.compact) || strings.HasSuffix(compact, b.compact)):
			// The brand run together with another word: stronger when the word is a login page's.
			score := 75
			if hasLoginWord(strings.TrimSuffix(strings.TrimPrefix(compact, b.compact), b.compact)) {
				score = 80
			}
			consider(b, score, "added_words")
		default:
			for _, cand := range append([]string{compact}, tokens...) {
				d, keyboard := distance(cand, b.compact)
				n := utf8.RuneCountInString(b.compact)
				if d == 1 && n >= 5 || d == 2 && n >= 9 {
					t := []string{"typo"}
					if keyboard {
						t = append(t, "keyboard")
					}
					consider(b, 85-5*d, t...)
				}
			}
		}
	}
	return best, best.Score > 0
}

func containsTokens(tokens, want []string) bool {
	if len(want) < 2 {
		return false
	}
	for i := 0; i+len(want) <= len(tokens); i++ {
		if slices.Equal(tokens[i:i+len(want)], want) {
			return true
		}
	}
	return false
}

func hasLoginWord(s string) bool {
	for _, w := range loginWords {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// confusables map characters that look like Latin letters and digits to them: Cyrillic, Greek,
// full-width forms (by NFKC) and the ASCII look-alikes of UTS #39 (0 o, 1 l).
var confusables = map[rune]string{
	'а': "a", 'в': "b", 'ь': "b", 'е': "e", 'ё': "e", 'к': "k", 'м': "m", 'н': "h", 'о': "o", 'р': "p", 'с': "c", 'т': "t", 'у': "y",
	'х': "x", 'і': "i", 'ї': "i", 'ј': "j", 'ѕ': "s", 'ԁ': "d", 'ԛ': "q", 'ԝ': "w", 'ɡ': "g", 'ɩ': "i", 'ı': "i",
	'α': "a", 'β': "b", 'ε': "e", 'η': "n", 'ι': "i", 'κ': "k", 'ν': "v", 'ο': "o", 'ρ': "p", 'τ': "t", 'υ': "u", 'χ': "x",
	'ω': "w", 'ϲ': "c", 'ℓ': "l",
	'0': "o", '1': "l", '|': "l",
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "a", 'å': "a", 'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ì': "i", 'í': "i",
	'î': "i", 'ï': "i", 'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o", 'ö': "o", 'ù': "u", 'ú': "u", 'û': "u", 'ü': "u", 'ý': "y",
	'ç': "c", 'ñ': "n", 'ş': "s", 'ś': "s", 'ź': "z", 'ż': "z", 'ğ': "g",
}

// skeleton is what a label looks like: NFKC-folded, lower case, confusable characters replaced by the
// letters they imitate, and the multi-letter look-alikes rn → m and vv → w.
func skeleton(s string) string {
	// Before NFKC too: it folds some look-alikes (the lunate sigma ϲ) into letters that do not look alike.
	s = strings.ToLower(norm.NFKC.String(replaceConfusables(strings.ToLower(s))))
	out := strings.ReplaceAll(replaceConfusables(s), "rn", "m")
	return strings.ReplaceAll(out, "vv", "w")
}

func replaceConfusables(s string) string {
	var b strings.Builder
	for _, r := range s {
		if c, ok := confusables[r]; ok {
			b.WriteString(c)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// qwerty rows, for keyboard-neighbour typos.
var qwerty = []string{"1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"}

func neighbours(a, b rune) bool {
	pos := func(r rune) (int, int) {
		for row, keys := range qwerty {
			if i := strings.IndexRune(keys, r); i >= 0 {
				return row, i
			}
		}
		return -9, -9
	}
	ra, ca := pos(a)
	rb, cb := pos(b)
	return ra >= 0 && rb >= 0 && abs(ra-rb) <= 1 && abs(ca-cb) <= 1 && (a != b)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// distance is the Damerau-Levenshtein distance (optimal string alignment) between a and b, in runes,
// and whether its only substitution is of keyboard neighbours.
func distance(a, b string) (int, bool) {
	ra, rb := []rune(a), []rune(b)
	if abs(len(ra)-len(rb)) > 2 {
		return 3, false
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	dist := d[len(ra)][len(rb)]
	keyboard := false
	if dist == 1 && len(ra) == len(rb) {
		for i := range ra {
			if ra[i] != rb[i] {
				keyboard = neighbours(ra[i], rb[i])
				break
			}
		}
	}
	return dist, keyboard
}
