package reconstruct

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/brokerguard/brokerguard/internal/event"
	"github.com/brokerguard/brokerguard/internal/money"
)

func TestYen(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{money.MustYen("123.5").MulInt(100).String(), "12350"},
		{money.MustYen("0.1").Add(money.MustYen("0.2")).String(), "0.3"},
		{money.MustYen("1.0514").MulInt(12345).String(), "12979.533"},
		{money.MustYen("-12.5").Floor().String(), "-13"},
		{money.MustYen("12.999").Floor().String(), "12"},
		{money.MustYen("1.5e3").String(), "1500"},
		{money.MustYen("5").Sub(money.MustYen("5.00")).String(), "0"},
		{money.MustYen("1234567.5").Grouped(), "1,234,567.5"},
		{money.MustYen("-1234").Grouped(), "-1,234"},
		{money.MustYen("999").Grouped(), "999"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
	for _, bad := range []string{"", "abc", "NaN", "Infinity", "1e99", "1234567890123456789012345678901"} {
		if _, err := money.ParseYen(bad); err == nil {
			t.Errorf("ParseYen(%q): got no error", bad)
		}
	}
}

func TestYenJSON(t *testing.T) {
	b, _ := json.Marshal(struct{ A, B money.Yen }{money.MustYen("123.50"), money.Yen{}})
	if string(b) != `{"A":"123.5","B":"0"}` {
		t.Errorf("got %s", b)
	}
	var v struct{ A, B money.Yen }
	if err := json.Unmarshal([]byte(`{"A":"0.1","B":7.25}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.A.String() != "0.1" || v.B.String() != "7.25" {
		t.Errorf("got %s %s", v.A, v.B)
	}
	if err := json.Unmarshal([]byte(`{"A":"x"}`), &v); err == nil {
		t.Error("want an error for a non-number")
	}
}

func TestRawNumber(t *testing.T) {
	tests := []struct {
		obj, key, lit string
		found, sure   bool
	}{
		{`{"price":123.5,"fee":0}`, "price", "123.5", true, true},
		{`{"fee":55,"price":1.0514}`, "fee", "55", true, true},
		{` { "a" : {"price": 1}, "b":["price", 2], "price" : 7e2 } `, "price", "7e2", true, true},
		{`{"note":"\"price\":9","price":3}`, "price", "3", true, true},
		{`{"price":1,"price":2}`, "price", "2", true, true},
		{`{"fee":1}`, "price", "", false, true},
		{`{}`, "price", "", false, true},
		{`{"pr\u0069ce":5}`, "price", "", false, false},
		{`{"\n":5,"price":6}`, "price", "6", true, true},
		{`{"Price":5}`, "price", "", false, false},
		{`[1]`, "price", "", false, false},
	}
	for _, tc := range tests {
		lit, found, sure := rawNumber([]byte(tc.obj), tc.key)
		if string(lit) != tc.lit || found != tc.found || sure != tc.sure {
			t.Errorf("%s %s: got %q %v %v, want %q %v %v", tc.obj, tc.key, lit, found, sure, tc.lit, tc.found, tc.sure)
		}
	}
}

// FuzzRawNumber holds the scan to the JSON decoder: whenever it is sure, it finds the member the decoder
// sees, with the same literal.
func FuzzRawNumber(f *testing.F) {
	f.Add([]byte(`{"id":"e1","type":"execution","price":123.5,"fee":0,"x":{"price":1}}`))
	f.Add([]byte(`{"price":1e2 , "price" : -0.5}`))
	f.Add([]byte(`{"a":"\\","price":3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		lit, found, sure := rawNumber(b, "price")
		if !sure {
			return
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil {
			return // not JSON: the event decoder rejects the line before the scan runs
		}
		v, ok := m["price"]
		isNum := ok && len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9'))
		if found != isNum || (found && !bytes.Equal(lit, bytes.TrimSpace(v))) {
			t.Fatalf("%s: scan found %v %q, decoder sees %v %q", b, found, lit, ok, v)
		}
	})
}

// A price literal is read exactly, and a price the scan cannot locate falls back to the decoded value.
func TestMoneyFromRawEvent(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`{"id":"e1","type":"quote","time":"2025-04-10T09:00:00+09:00","symbol":"X","price":0.30000000000000004,"volume":1}`, "0.30000000000000004"},
		{`{"id":"e1","type":"quote","time":"2025-04-10T09:00:00+09:00","symbol":"X","pr\u0069ce":123.4,"volume":1}`, "123.4"},
	} {
		ev, err := event.Decode([]byte(tc.line))
		if err != nil {
			t.Fatal(err)
		}
		y, fe := YenField(&ev, "price", ev.Price)
		if fe != nil || y.String() != tc.want {
			t.Errorf("got %s %v, want %s", y, fe, tc.want)
		}
	}
}
