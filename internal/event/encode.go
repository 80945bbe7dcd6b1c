package event

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// AppendDecision appends the contract's JSON form of d (no newline) to dst. It allocates nothing beyond
// growing dst, because a replay writes one decision per order, login, change and withdrawal.
func AppendDecision(dst []byte, d *Decision) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, d.ID)
	dst = append(dst, `,"account":`...)
	dst = appendString(dst, d.Account)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, d.Type)
	dst = append(dst, `,"action":"`...)
	dst = append(dst, d.Action.String()...)
	dst = append(dst, `","score":`...)
	dst = strconv.AppendInt(dst, int64(d.Score), 10)
	dst = append(dst, `,"reasons":`...)
	dst = AppendReasons(dst, d.Reasons)
	return append(dst, '}')
}

// AppendReasons appends a JSON array of reasons ("[]" when empty).
func AppendReasons(dst []byte, rs []Reason) []byte {
	dst = append(dst, '[')
	for i := range rs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"code":`...)
		dst = appendString(dst, rs[i].Code)
		dst = append(dst, `,"detail":`...)
		dst = appendString(dst, rs[i].Detail)
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// AppendAlert appends the contract's JSON form of a (no newline) to dst.
func AppendAlert(dst []byte, a *Alert) []byte {
	out := *a
	if out.Symbols == nil {
		out.Symbols = []string{}
	}
	if out.Accounts == nil {
		out.Accounts = []string{}
	}
	if out.Reasons == nil {
		out.Reasons = []Reason{}
	}
	b, err := json.Marshal(&out)
	if err != nil {
		// Every field of Alert is marshalable; reaching this is a programming error.
		panic("event: marshal alert: " + err.Error())
	}
	return append(dst, b...)
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string, escaping what JSON requires and replacing invalid UTF-8.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
