package money

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
)

// Yen is an exact decimal number of yen: a price, a fee, an amount of money. It never passes through a
// binary float. A Yen is immutable: every operation returns a new value. The zero value is 0.
//
// In JSON a Yen is a string that holds a plain decimal ("123.5", "-10", "0": no exponent, no trailing
// zeros after the point), so that no reader turns it into a binary float by accident; whole-yen amounts
// are simply decimals without a point. Decoding accepts such a string or a JSON number.
type Yen struct{ d apd.Decimal }

// exact is the context of every operation. Precision 0 disables rounding, so addition, subtraction and
// multiplication are exact; the traps turn overflow into an error. ParseYen bounds every input (at most
// maxDigits digits, exponents within ±maxExponent), so no operation on values of this package can hit
// the context's limits: an error from it is a broken invariant and panics.
var exact = apd.BaseContext

const (
	maxDigits   = 30
	maxExponent = 30
)

// YenOf returns n yen.
func YenOf(n int64) Yen {
	var y Yen
	y.d.SetInt64(n)
	return y
}

// ParseYen parses a decimal such as "123.5", "-7", "1.5e3" (the forms of a JSON number). It rejects
// infinities, NaN and numbers beyond 30 digits or 10^±30.
func ParseYen(s string) (Yen, error) {
	var y Yen
	if _, _, err := y.d.SetString(s); err != nil {
		return Yen{}, fmt.Errorf("%q is not a decimal number", s)
	}
	if y.d.Form != apd.Finite {
		return Yen{}, fmt.Errorf("%q is not a finite number", s)
	}
	if y.d.NumDigits() > maxDigits || y.d.Exponent > maxExponent || y.d.Exponent < -maxExponent {
		return Yen{}, fmt.Errorf("%q is out of range", s)
	}
	return y, nil
}

// MustYen parses a yen literal the code itself writes; it panics on a bad one.
func MustYen(s string) Yen {
	y, err := ParseYen(s)
	if err != nil {
		panic(err)
	}
	return y
}

func check(_ apd.Condition, err error) {
	if err != nil {
		panic("money: exact decimal arithmetic failed: " + err.Error())
	}
}

// Add returns a + b.
func (a Yen) Add(b Yen) Yen {
	var r Yen
	check(exact.Add(&r.d, &a.d, &b.d))
	return r
}

// Sub returns a − b.
func (a Yen) Sub(b Yen) Yen {
	var r Yen
	check(exact.Sub(&r.d, &a.d, &b.d))
	return r
}

// Mul returns a × b.
func (a Yen) Mul(b Yen) Yen {
	var r Yen
	check(exact.Mul(&r.d, &a.d, &b.d))
	return r
}

// MulInt returns a × n.
func (a Yen) MulInt(n int64) Yen { return a.Mul(YenOf(n)) }

// Neg returns −a.
func (a Yen) Neg() Yen {
	var r Yen
	r.d.Neg(&a.d)
	return r
}

// Floor rounds down to whole yen (towards minus infinity).
func (a Yen) Floor() Yen {
	var r Yen
	check(exact.Floor(&r.d, &a.d))
	return r
}

// Sign returns -1, 0 or +1.
func (a Yen) Sign() int { return a.d.Sign() }

// Cmp compares a and b: -1 if a < b, 0 if equal, +1 if a > b.
func (a Yen) Cmp(b Yen) int { return a.d.Cmp(&b.d) }

// Equal reports whether a and b are the same number (1.50 equals 1.5).
func (a Yen) Equal(b Yen) bool { return a.Cmp(b) == 0 }

// Max returns the larger of a and b.
func Max(a, b Yen) Yen {
	if a.Cmp(b) >= 0 {
		return a
	}
	return b
}

// String returns the plain decimal: "123.5", "-10", "0".
func (a Yen) String() string {
	if a.d.IsZero() {
		return "0"
	}
	var r apd.Decimal
	r.Reduce(&a.d)
	return r.Text('f')
}

// Grouped returns the decimal with thousands separators, for explanations: "1,234,567.5".
func (a Yen) Grouped() string {
	s := a.String()
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// MarshalJSON writes the plain decimal as a JSON string.
func (a Yen) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, a.String()), nil
}

// UnmarshalJSON reads a decimal from a JSON string or number.
func (a *Yen) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		var err error
		if s, err = strconv.Unquote(s); err != nil {
			return errors.New("yen: malformed JSON string")
		}
	}
	y, err := ParseYen(s)
	if err != nil {
		return fmt.Errorf("yen: %w", err)
	}
	*a = y
	return nil
}
