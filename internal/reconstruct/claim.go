package reconstruct

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/event"
)

// Claim is one account's unauthorized activity as the firm names it: one line of an incidents file,
//
//	{"account": "A123", "orders": ["o9", "o12"], "report_time": "2025-04-11T18:46:52+09:00",
//	 "sessions": ["s1"], "factors": ["reuse_admitted"], "id": "inc-7"}
//
// account and orders (the order ids of the unauthorized orders) are required; the rest is optional.
// sessions names attacker sessions beyond those of the orders (one that only changed the email or
// withdrew money, say), for the tally; factors are the case factors of the compensation policy that
// apply; id is the firm's reference, echoed in the output.
type Claim struct {
	Line       int64     `json:"-"` // line of the incidents file (0 when not from a file)
	ID         string    `json:"id,omitempty"`
	Account    string    `json:"account"`
	Orders     []string  `json:"orders"`
	Sessions   []string  `json:"sessions,omitempty"`
	ReportTime time.Time `json:"report_time,omitzero"`
	Factors    []string  `json:"factors,omitempty"`
}

// ClaimError is what is wrong with one claim: a line of the incidents file that cannot be read,
// or an incident that does not match the events. Other incidents are not affected.
type ClaimError struct {
	Line    int64
	ID      string
	Account string
	Msg     string
}

func (e *ClaimError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		b.WriteString("incidents line ")
		b.WriteString(strconv.FormatInt(e.Line, 10))
		b.WriteString(": ")
	}
	if e.ID != "" {
		b.WriteString("incident ")
		b.WriteString(strconv.Quote(e.ID))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// NewClaimError returns what is wrong with claim inc, as its line, id and account name it.
func NewClaimError(inc *Claim, format string, args ...any) *ClaimError {
	return &ClaimError{Line: inc.Line, ID: inc.ID, Account: inc.Account, Msg: fmt.Sprintf(format, args...)}
}

type incidentWire struct {
	ID         *string  `json:"id"`
	Account    *string  `json:"account"`
	Orders     []string `json:"orders"`
	Sessions   []string `json:"sessions"`
	ReportTime *string  `json:"report_time"`
	Factors    []string `json:"factors"`
}

// ReadIncidents reads an incidents file (JSON Lines, plain or gzip). Lines that cannot be read are
// returned as errors, in line order; the other incidents are returned in line order too. The error is
// for the input itself (unreadable).
func ReadIncidents(r io.Reader) ([]Claim, []*ClaimError, error) {
	rd, err := event.NewReader(r)
	if err != nil {
		return nil, nil, err
	}
	var incs []Claim
	var bad []*ClaimError
	for {
		line, n, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return incs, bad, nil
		}
		var le *event.LineError
		if errors.As(err, &le) {
			bad = append(bad, &ClaimError{Line: n, Msg: le.Err.Msg})
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		inc, ierr := ParseIncident(line)
		if ierr != nil {
			ierr.Line = n
			bad = append(bad, ierr)
			continue
		}
		inc.Line = n
		incs = append(incs, inc)
	}
}

// ParseIncident parses and checks one incident object. Unknown fields are errors: a misspelt
// "report_time" must not silently change a valuation.
func ParseIncident(b []byte) (Claim, *ClaimError) {
	var w incidentWire
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Claim{}, &ClaimError{Msg: jsonProblem(err)}
	}
	if dec.More() {
		return Claim{}, &ClaimError{Msg: "more than one JSON value on the line"}
	}
	inc := Claim{Orders: w.Orders, Sessions: w.Sessions, Factors: w.Factors}
	if w.ID != nil {
		inc.ID = *w.ID
	}
	fail := func(format string, args ...any) (Claim, *ClaimError) {
		return Claim{}, NewClaimError(&inc, format, args...)
	}
	if w.Account == nil || *w.Account == "" {
		return fail(`field "account": required`)
	}
	inc.Account = *w.Account
	if w.Orders == nil {
		return fail(`field "orders": required (a list of order ids, [] when the attacker placed none)`)
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"orders", w.Orders}, {"sessions", w.Sessions}, {"factors", w.Factors}} {
		name := l.name
		seen := map[string]bool{}
		for i, v := range l.list {
			if v == "" {
				return fail("field %q: item %d is empty", name, i)
			}
			if seen[v] {
				return fail("field %q: %q is listed twice", name, v)
			}
			seen[v] = true
		}
	}
	if len(w.Orders) == 0 && len(w.Sessions) == 0 {
		return fail(`fields "orders" and "sessions" are both empty: name at least one unauthorized order or session`)
	}
	if w.ReportTime != nil {
		t, err := event.ParseTime(*w.ReportTime)
		if err != nil {
			return fail(`field "report_time": want RFC 3339 with offset (e.g. 2025-04-11T18:46:52+09:00), got %q`, *w.ReportTime)
		}
		inc.ReportTime = t
	}
	return inc, nil
}

// jsonProblem says what encoding/json found wrong, naming the field.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return "want a JSON object, got " + te.Value
		}
		field, _, _ := strings.Cut(te.Field, "[")
		want := "a string"
		if field == "orders" || field == "sessions" || field == "factors" {
			want = "a list of strings"
		}
		return fmt.Sprintf("field %q: want %s, got %s", field, want, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)
	}
	if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown field " + msg + " (known: id, account, orders, sessions, report_time, factors)"
	}
	return "malformed JSON: " + err.Error()
}
