package reconstruct

import "strings"

// The event decoder turns prices and fees into float64. Money must stay exact, so the numbers are read
// again from the event's raw JSON: rawNumber finds the literal text of one top-level member.

// rawNumber returns the literal of the top-level member key of the JSON object obj when it is a
// number. found is false when the member is absent or not a number. sure is false when the scan cannot
// tell: a key written with escapes, a key that matches only ignoring case (the decoder accepts those),
// input that is not a well-formed object. The caller then falls back to the decoded value. As in the
// decoder, the last of repeated members wins.
func rawNumber(obj []byte, key string) (lit []byte, found, sure bool) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, false, false
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return nil, false, true
	}
	for {
		if i >= len(obj) || obj[i] != '"' {
			return nil, false, false
		}
		end, escaped := scanString(obj, i)
		if end < 0 {
			return nil, false, false
		}
		name := obj[i+1 : end-1]
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return nil, false, false
		}
		i = skipSpace(obj, i+1)
		vend := skipValue(obj, i)
		if vend < 0 {
			return nil, false, false
		}
		if escaped {
			// Escapes only lengthen a key, so a shorter escaped key cannot spell key.
			if len(name) >= len(key) {
				return nil, false, false
			}
		} else if string(name) != key && strings.EqualFold(string(name), key) {
			return nil, false, false
		} else if string(name) == key {
			v := obj[i:vend]
			lit, found = nil, false
			if len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
				lit, found = v, true
			}
		}
		i = skipSpace(obj, vend)
		if i >= len(obj) {
			return nil, false, false
		}
		switch obj[i] {
		case ',':
			i = skipSpace(obj, i+1)
		case '}':
			return lit, found, true
		default:
			return nil, false, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the index after the string that starts at b[i] ('"'), or -1, and whether it holds
// an escape.
func scanString(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, escaped
}

// skipValue returns the index after the JSON value that starts at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := scanString(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := scanString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
