package event

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-json"
)

// Checks of an event's raw bytes, before the JSON decoder sees them. The decoder normalises: it turns
// a broken UTF-8 sequence or a lone surrogate escape into U+FFFD (so that two different raw ids would
// become one account), lets the last of two equal keys win, and matches keys regardless of case
// ("ACCOUNT", "ſymbol" fill account and symbol). An event must mean one thing, the thing that its bytes
// say, so each of these is refused.

// checkUTF8 refuses bytes that are not UTF-8 and \u escapes that are not characters.
func checkUTF8(raw []byte) *FieldError {
	if !utf8.Valid(raw) {
		off := 0
		for off < len(raw) {
			r, n := utf8.DecodeRune(raw[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return &FieldError{Field: keyAt(raw, off), Code: CodeInvalidUTF8, Msg: "byte " + strconv.Itoa(off) + " is not UTF-8"}
	}
	i := bytes.IndexByte(raw, '\\')
	if i < 0 {
		return nil
	}
	// Backslashes occur only inside strings; each escape is read as a whole, so "\\u" is no escape.
	for ; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 >= len(raw) {
			return nil // malformed: the decoder says so
		}
		if raw[i+1] != 'u' {
			i++
			continue
		}
		r, ok := hex4(raw, i+2)
		if !ok {
			return nil
		}
		switch {
		case r >= 0xd800 && r < 0xdc00:
			if lo, ok := hex4(raw, i+8); ok && i+7 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' && lo >= 0xdc00 && lo < 0xe000 {
				i += 11
				continue
			}
			return loneSurrogate(raw, i)
		case r >= 0xdc00 && r < 0xe000:
			return loneSurrogate(raw, i)
		}
		i += 5
	}
	return nil
}

func loneSurrogate(raw []byte, i int) *FieldError {
	return &FieldError{Field: keyAt(raw, i), Code: CodeInvalidUTF8, Msg: "escape " + string(raw[i:i+6]) + " at byte " + strconv.Itoa(i) + " is half of a character (a lone surrogate)"}
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// keys of the wire object and of a holding, each with its bit.
var (
	wireKeys    = newKeyTable(reflect.TypeFor[wire]())
	holdingKeys = newKeyTable(reflect.TypeFor[Holding]())
	holdingsBit = wireKeys.bit("holdings")
)

// keyTable finds a contract key by a perfect hash of its length and first, second and last bytes: a
// lookup for each key of every event is a multiplication and one comparison.
type keyTable struct {
	mul   uint32
	slots [256]keySlot
	names []string
}

type keySlot struct {
	name string
	bit  uint64
}

func newKeyTable(t reflect.Type) *keyTable {
	kt := &keyTable{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			kt.names = append(kt.names, name)
		}
	}
	if len(kt.names) > 64 {
		panic("event: more than 64 keys in " + t.Name())
	}
search:
	for mul := uint32(0x9e3779b1); ; mul += 2 {
		kt.mul = mul
		clear(kt.slots[:])
		for i, name := range kt.names {
			s := &kt.slots[kt.slot([]byte(name))]
			if s.name != "" {
				continue search
			}
			s.name, s.bit = name, 1<<i
		}
		return kt
	}
}

func (kt *keyTable) slot(k []byte) uint32 {
	if len(k) < 2 {
		return 0
	}
	h := uint32(len(k))<<24 | uint32(k[0])<<16 | uint32(k[1])<<8 | uint32(k[len(k)-1])
	return (h * kt.mul) >> 24
}

// lookup returns the bit of key, or 0.
func (kt *keyTable) lookup(key []byte) uint64 {
	s := &kt.slots[kt.slot(key)]
	if s.name == string(key) {
		return s.bit
	}
	return 0
}

func (kt *keyTable) bit(name string) uint64 { return kt.lookup([]byte(name)) }

// checkKeys refuses an object (the event, or one of its holdings) that has a key twice, or a key that
// is one of the contract's only when case is ignored. raw has been decoded without error, so it is
// valid JSON; anything unexpected ends the check without a verdict.
func checkKeys(raw []byte) *FieldError {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil
	}
	_, fe := objectKeys(raw, i, wireKeys, "")
	return fe
}

// objectKeys checks the keys of the object at raw[i] and returns the index after it.
func objectKeys(raw []byte, i int, known *keyTable, prefix string) (int, *FieldError) {
	var seen uint64
	var othersBuf [8][]byte
	others := othersBuf[:0] // keys outside the contract, unescaped
	i++
	for {
		i = skipSpace(raw, i)
		if i >= len(raw) {
			return i, nil
		}
		switch raw[i] {
		case '}':
			return i + 1, nil
		case ',':
			i++
			continue
		case '"':
		default:
			return len(raw), nil
		}
		end, esc := keyEnd(raw, i)
		if end >= len(raw) {
			return end, nil
		}
		key := raw[i+1 : end]
		if esc {
			var s string
			if json.Unmarshal(raw[i:end+1], &s) != nil {
				return len(raw), nil
			}
			key = []byte(s)
		}
		bit := known.lookup(key)
		ok := bit != 0
		switch {
		case ok && seen&bit != 0:
			return i, &FieldError{Field: prefix + string(key), Code: CodeDuplicateKey, Msg: "the key appears twice in the object"}
		case ok:
			seen |= bit
		default:
			if name := foldedKey(key, known); name != "" {
				return i, &FieldError{Field: prefix + name, Code: CodeKeyCase,
					Msg: "key " + quote(string(key)) + " differs from the contract's " + strconv.Quote(name) + " only in case; keys are matched exactly"}
			}
			for _, o := range others {
				if bytes.Equal(o, key) {
					return i, &FieldError{Field: prefix + quoteKey(key), Code: CodeDuplicateKey, Msg: "the key appears twice in the object"}
				}
			}
			others = append(others, key)
		}
		i = skipSpace(raw, end+1)
		if i >= len(raw) || raw[i] != ':' {
			return len(raw), nil
		}
		i = skipSpace(raw, i+1)
		if prefix == "" && ok && bit == holdingsBit && i < len(raw) && raw[i] == '[' {
			var fe *FieldError
			if i, fe = holdingsKeys(raw, i); fe != nil {
				return i, fe
			}
			continue
		}
		i = skipValue(raw, i)
	}
}

// holdingsKeys checks each object of the holdings array at raw[i].
func holdingsKeys(raw []byte, i int) (int, *FieldError) {
	i++
	for n := 0; ; {
		i = skipSpace(raw, i)
		if i >= len(raw) {
			return i, nil
		}
		switch raw[i] {
		case ']':
			return i + 1, nil
		case ',':
			i++
		case '{':
			var fe *FieldError
			if i, fe = objectKeys(raw, i, holdingKeys, "holdings["+strconv.Itoa(n)+"]."); fe != nil {
				return i, fe
			}
			n++
		default:
			i = skipValue(raw, i)
			n++
		}
	}
}

// foldedKey returns the contract key that key equals when case is ignored, or "".
func foldedKey(key []byte, known *keyTable) string {
	var buf [32]byte
	if len(key) > len(buf) {
		return ""
	}
	ascii := true
	for i, c := range key {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	if ascii {
		if known.lookup(buf[:len(key)]) != 0 {
			return string(buf[:len(key)])
		}
		return ""
	}
	// Unicode folding: "ſ" is "s" and "K" (Kelvin) is "k" to a case-insensitive match.
	for _, name := range known.names {
		if strings.EqualFold(name, string(key)) {
			return name
		}
	}
	return ""
}

func quoteKey(key []byte) string {
	if len(key) > MaxTextLen {
		key = key[:MaxTextLen]
	}
	return strings.ToValidUTF8(string(key), "")
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// keyEnd returns the index of the quote that closes the key opening at b[i], and whether the key has
// escapes; len(b) when it is not closed. Keys are short: a loop beats a search.
func keyEnd(b []byte, i int) (int, bool) {
	esc := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return j, esc
		case '\\':
			esc = true
			j++
		}
	}
	return len(b), esc
}

// stringEnd returns the index of the quote that closes the string opening at b[i]; len(b) when it is
// not closed.
func stringEnd(b []byte, i int) int {
	j := i + 1
	// Most values are short: look at their first bytes before calling the search.
	for n := min(len(b), j+24); j < n; j++ {
		switch b[j] {
		case '"':
			return j
		case '\\':
			goto search
		}
	}
search:
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b)
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		j = q + 1
	}
}

// skipValue returns the index after the JSON value at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		end := stringEnd(b, i)
		return end + 1
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end := stringEnd(b, i)
				i = end + 1
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// keyAt names the top-level key whose value holds byte off of raw (for an error there), or "".
func keyAt(raw []byte, off int) string {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return ""
	}
	i++
	for i < off {
		i = skipSpace(raw, i)
		if i >= len(raw) || i >= off {
			return ""
		}
		if raw[i] == ',' {
			i++
			continue
		}
		if raw[i] != '"' {
			return ""
		}
		end, _ := keyEnd(raw, i)
		if end >= off {
			return "" // in the key itself
		}
		key := raw[i+1 : end]
		i = skipSpace(raw, end+1)
		if i >= len(raw) || raw[i] != ':' {
			return ""
		}
		next := skipValue(raw, skipSpace(raw, i+1))
		if off < next {
			return quoteKey(key)
		}
		i = next
	}
	return ""
}
