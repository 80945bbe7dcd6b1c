package event

import (
	"errors"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

// The edges of the input (issue 18): times without Unix nanoseconds, numbers that are not sane amounts,
// bytes that are not UTF-8, and keys that say one thing twice. Each is refused, naming the field.
func TestDecodeRefusesEdges(t *testing.T) {
	logout := func(at string) string {
		return `{"id":"e","type":"logout","time":"` + at + `","account":"A"}`
	}
	order := func(extra string) string {
		return `{"id":"o","type":"order","time":"2025-03-17T09:00:01Z","account":"A","order_id":"x","symbol":"1","side":"buy","ip":"1.2.3.4",` + extra + `}`
	}
	withdrawal := func(amount string) string {
		return `{"id":"w","type":"withdrawal","time":"2025-03-17T09:00:01Z","account":"A","ip":"1.1.1.1","amount":` + amount + `}`
	}
	tests := []struct {
		name, line, field, code string
	}{
		{"year 1600", logout("1600-01-01T00:00:00Z"), "time", CodeBadTime},
		{"the last instant before 1678", logout("1677-12-31T23:59:59.999999999Z"), "time", CodeBadTime},
		{"year 2262", logout("2262-01-01T00:00:00Z"), "time", CodeBadTime},
		{"offset brings it before 1678", logout("1678-01-01T08:00:00+09:00"), "time", CodeBadTime},
		{"year 9999", logout("9999-12-31T23:59:59Z"), "time", CodeBadTime},
		{"price 1e308", order(`"quantity":1,"price":1e308`), "price", CodeOutOfRange},
		{"price over the default bound", order(`"quantity":1,"price":1.00001e13`), "price", CodeOutOfRange},
		{"price beyond float64", order(`"quantity":1,"price":1e400`), "price", CodeOutOfRange},
		{"quantity over the default bound", order(`"quantity":1000000000001`), "quantity", CodeOutOfRange},
		{"quantity 1e300", order(`"quantity":1e300`), "quantity", CodeOutOfRange},
		{"withdrawal 1e300", withdrawal("1e300"), "amount", CodeOutOfRange},
		{"withdrawal beyond float64", withdrawal("-1e999"), "amount", CodeOutOfRange},
		{"cash 1e308", `{"id":"s","type":"snapshot","time":"2025-03-17T09:00:01Z","account":"A","cash":1e308}`, "cash", CodeOutOfRange},
		{"cash beyond float64", `{"id":"s","type":"snapshot","time":"2025-03-17T09:00:01Z","account":"A","cash":1e309}`, "cash", CodeOutOfRange},
		{"holding cost 1e200", `{"id":"s","type":"snapshot","time":"2025-03-17T09:00:01Z","account":"A","holdings":[{"symbol":"1","quantity":1,"cost":1e200}]}`, "holdings[0].cost", CodeOutOfRange},
		{"holding quantity", `{"id":"s","type":"snapshot","time":"2025-03-17T09:00:01Z","account":"A","holdings":[{"symbol":"1","quantity":5000000000000,"cost":1}]}`, "holdings[0].quantity", CodeOutOfRange},
		{"execution fee", `{"id":"x","type":"execution","time":"2025-03-17T09:00:01Z","account":"A","order_id":"x","symbol":"1","side":"buy","quantity":1,"price":1,"fee":1e14}`, "fee", CodeOutOfRange},
		{"quote volume", `{"id":"q","type":"quote","time":"2025-03-17T09:00:01Z","symbol":"1","price":1,"volume":1e13}`, "volume", CodeOutOfRange},
		{"instrument lot", `{"id":"i","type":"instrument","time":"2025-03-17T09:00:01Z","symbol":"1","lot":2000000000000}`, "lot", CodeOutOfRange},
		{"instrument shares outstanding", `{"id":"i","type":"instrument","time":"2025-03-17T09:00:01Z","symbol":"1","shares_outstanding":1e18}`, "shares_outstanding", CodeOutOfRange},
		{"instrument prev close", `{"id":"i","type":"instrument","time":"2025-03-17T09:00:01Z","symbol":"1","prev_close":1e20}`, "prev_close", CodeOutOfRange},
		{"instrument volume", `{"id":"i","type":"instrument","time":"2025-03-17T09:00:01Z","symbol":"1","avg_daily_volume":1e16}`, "avg_daily_volume", CodeOutOfRange},
		{"broken byte in the account", "{\"id\":\"e\",\"type\":\"logout\",\"time\":\"2025-03-17T09:00:01Z\",\"account\":\"A\xff1\"}", "account", CodeInvalidUTF8},
		{"broken byte in an unknown field", "{\"id\":\"e\",\"type\":\"logout\",\"time\":\"2025-03-17T09:00:01Z\",\"account\":\"A\",\"x_note\":\"\xc3\"}", "x_note", CodeInvalidUTF8},
		{"broken byte in a key", "{\"id\":\"e\",\"type\":\"logout\",\"time\":\"2025-03-17T09:00:01Z\",\"account\":\"A\",\"\xfe\":1}", "", CodeInvalidUTF8},
		{"lone surrogate escape in the account", `{"id":"e","type":"logout","time":"2025-03-17T09:00:01Z","account":"A\udc00"}`, "account", CodeInvalidUTF8},
		{"high surrogate without its pair", `{"id":"e","type":"logout","time":"2025-03-17T09:00:01Z","account":"A\ud83dx"}`, "account", CodeInvalidUTF8},
		{"duplicate account", `{"id":"e","type":"logout","time":"2025-03-17T09:00:01Z","account":"A","account":"B"}`, "account", CodeDuplicateKey},
		{"duplicate id", `{"id":"e","id":"f","type":"logout","time":"2025-03-17T09:00:01Z","account":"A"}`, "id", CodeDuplicateKey},
		{"escaped duplicate", `{"id":"e","type":"logout","time":"2025-03-17T09:00:01Z","account":"A","\u0061ccount":"B"}`, "account", CodeDuplicateKey},
		{"upper-case account after account", `{"id":"e","type":"logout","time":"2025-03-17T09:00:01Z","account":"A","ACCOUNT":"B"}`, "account", CodeKeyCase},
		{"upper-case account alone", `{"id":"e","type":"logout","time":"2025-03-17T09:00:01Z","Account":"B"}`, "account", CodeKeyCase},
		{"long s folds to s", `{"id":"e","type":"quote","time":"2025-03-17T09:00:01Z","ſymbol":"1","price":1,"volume":1}`, "symbol", CodeKeyCase},
		{"Kelvin sign folds to k", `{"id":"i","type":"instrument","time":"2025-03-17T09:00:01Z","symbol":"1","mar\u212Aet":"prime"}`, "market", CodeKeyCase},
		{"upper-case after lower-case", `{"id":"e","type":"logout","time":"2025-03-17T09:00:01Z","account":"A","tls":"x","TLS":"y"}`, "tls", CodeKeyCase},
		{"duplicate unknown key", `{"id":"e","type":"logout","time":"2025-03-17T09:00:01Z","account":"A","x":{"a":1},"x":2}`, "x", CodeDuplicateKey},
		{"duplicate key in a holding", `{"id":"s","type":"snapshot","time":"2025-03-17T09:00:01Z","account":"A","holdings":[{"symbol":"1","quantity":1},{"symbol":"2","quantity":1,"quantity":9}]}`, "holdings[1].quantity", CodeDuplicateKey},
		{"case variant in a holding", `{"id":"s","type":"snapshot","time":"2025-03-17T09:00:01Z","account":"A","holdings":[{"symbol":"1","Cost":1}]}`, "holdings[0].cost", CodeKeyCase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode([]byte(tt.line))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %+v, %v, want a *FieldError", ev, err)
			}
			if fe.Field != tt.field || fe.Code != tt.code {
				t.Errorf("got field %q code %q (%v), want field %q code %q", fe.Field, fe.Code, err, tt.field, tt.code)
			}
			if tt.field != "" && !strings.Contains(err.Error(), `"`+tt.field+`"`) {
				t.Errorf("message %q does not name the field", err)
			}
			if !utf8.ValidString(err.Error()) {
				t.Errorf("message %q is not UTF-8", err)
			}
		})
	}
}

// TestDecodeAcceptsInsideTheEdges: what is near the edges but inside them still decodes, and keeps its
// meaning.
func TestDecodeAcceptsInsideTheEdges(t *testing.T) {
	tests := []struct {
		name, line string
		check      func(ev Event) bool
	}{
		{"first instant of 1678", `{"id":"e","type":"logout","time":"1678-01-01T00:00:00Z","account":"A"}`,
			func(ev Event) bool { return ev.Time.Equal(MinTime) }},
		{"last instant of 2261", `{"id":"e","type":"logout","time":"2261-12-31T23:59:59.999999999Z","account":"A"}`,
			func(ev Event) bool { return ev.Time.Year() == 2261 }},
		{"price at the bound", `{"id":"o","type":"order","time":"2025-03-17T09:00:01Z","account":"A","order_id":"x","symbol":"1","side":"buy","quantity":1000000000000,"price":1e13,"ip":"1.2.3.4"}`,
			func(ev Event) bool { return ev.Price == 1e13 && ev.Quantity == 1e12 }},
		{"a pair of surrogates is one character", `{"id":"e","type":"logout","time":"2025-03-17T09:00:01Z","account":"A\ud83d\ude00"}`,
			func(ev Event) bool { return ev.Account == "A😀" }},
		{"an escaped backslash before u is no escape", `{"id":"e","type":"logout","time":"2025-03-17T09:00:01Z","account":"A\\udc00"}`,
			func(ev Event) bool { return ev.Account == `A\udc00` }},
		{"an escaped key once", `{"id":"e","type":"logout","time":"2025-03-17T09:00:01Z","\u0061ccount":"A"}`,
			func(ev Event) bool { return ev.Account == "A" }},
		{"the same key in different nested objects", `{"id":"e","type":"logout","time":"2025-03-17T09:00:01Z","account":"A","x":{"id":1,"ID":2},"y":[{"a":1},{"a":2}]}`,
			func(ev Event) bool { return ev.ID == "e" }},
		{"two holdings with the same keys", `{"id":"s","type":"snapshot","time":"2025-03-17T09:00:01Z","account":"A","holdings":[{"symbol":"1","quantity":1},{"symbol":"2","quantity":2}]}`,
			func(ev Event) bool { return len(ev.Holdings) == 2 }},
		{"text in the contract's strings with quotes and braces", `{"id":"e\"}{","type":"logout","time":"2025-03-17T09:00:01Z","account":"A","note":"\"account\":\"B\""}`,
			func(ev Event) bool { return ev.ID == `e"}{` && ev.Account == "A" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode([]byte(tt.line))
			if err != nil {
				t.Fatalf("got %v, want accepted", err)
			}
			if !tt.check(ev) {
				t.Errorf("got %+v", ev)
			}
		})
	}
}

func TestLimitsConfigured(t *testing.T) {
	line := []byte(`{"id":"w","type":"withdrawal","time":"2025-03-17T09:00:01Z","account":"A","ip":"1.1.1.1","amount":5000000}`)
	tests := []struct {
		name   string
		limits Limits
		code   string
	}{
		{"default", Limits{}, ""},
		{"tighter yen", Limits{MaxYen: 1e6}, CodeOutOfRange},
		{"tighter shares only", Limits{MaxShares: 10}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.limits.Decode(line)
			if got := CodeOf(err); got != tt.code {
				t.Errorf("got code %q (%v), want %q", got, err, tt.code)
			}
		})
	}
	for _, l := range []Limits{{MaxYen: -1}, {MaxYen: 1e16}, {MaxShares: 0.5}, {MaxShares: math.NaN()}, {MaxYen: math.Inf(1)}} {
		if l.Validate() == nil {
			t.Errorf("Limits %+v: got valid, want an error", l)
		}
	}
	if err := (Limits{MaxYen: 1e15, MaxShares: 1}).Validate(); err != nil {
		t.Errorf("got %v, want valid", err)
	}
}

// TestDecodeStoredTakesWhatEarlierVersionsStored: an event that a store holds (accepted before these
// checks, or under wider limits) still decodes when the state is rebuilt; what no store can hold does not.
func TestDecodeStoredTakesWhatEarlierVersionsStored(t *testing.T) {
	for _, line := range []string{
		`{"id":"o","type":"order","time":"2025-03-17T09:00:01Z","account":"A","order_id":"x","symbol":"1","side":"buy","quantity":1,"price":1e308,"ip":"1.2.3.4"}`,
		`{"id":"e","type":"logout","time":"2025-03-17T09:00:01Z","account":"A","ACCOUNT":"B"}`,
		"{\"id\":\"e\",\"type\":\"logout\",\"time\":\"2025-03-17T09:00:01Z\",\"account\":\"A\xff\"}",
		`{"id":"e","type":"logout","time":"1677-12-01T00:00:00Z","account":"A"}`,
	} {
		if _, err := DecodeStored([]byte(line)); err != nil {
			t.Errorf("%s: got %v, want decoded", line, err)
		}
	}
	_, err := DecodeStored([]byte(`{"id":"e","type":"logout","time":"1600-01-01T00:00:00Z","account":"A"}`))
	if CodeOf(err) != CodeBadTime {
		t.Errorf("got %v, want bad_time for a time no store holds", err)
	}
}

func TestKeyTablesMatchTheWire(t *testing.T) {
	if len(wireKeys.names) != 41 || len(holdingKeys.names) != 3 {
		t.Errorf("got %d event keys and %d holding keys, want 41 and 3", len(wireKeys.names), len(holdingKeys.names))
	}
	for _, kt := range []*keyTable{wireKeys, holdingKeys} {
		for i, name := range kt.names {
			if got := kt.bit(name); got != 1<<i {
				t.Errorf("key %q: got bit %b, want %b", name, got, uint64(1)<<i)
			}
		}
	}
	for _, name := range []string{"", "x", "ACCOUNT", "accounts", "nome", "tyme"} {
		if got := wireKeys.bit(name); got != 0 {
			t.Errorf("key %q: got bit %b, want none", name, got)
		}
	}
}
