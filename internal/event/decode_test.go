package event

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		name  string
		line  string
		check func(t *testing.T, ev Event)
	}{
		{"login with every field and an unknown one",
			`{"id":"e1","type":"login","time":"2025-03-17T09:00:01.250+09:00","account":"A1","result":"success","method":"password_otp","session":"s1","ip":"153.156.10.20","user_agent":"UA","device":"d1","country":"JP","channel":"web","accept_language":"ja-JP","tls":"t13d","firm_extra":{"x":1}}`,
			func(t *testing.T, ev Event) {
				if ev.Type != TypeLogin || ev.Session != "s1" || ev.TLS != "t13d" || ev.AcceptLanguage != "ja-JP" {
					t.Errorf("got %+v", ev)
				}
				if _, off := ev.Time.Zone(); off != 9*3600 {
					t.Errorf("got offset %d, want +09:00 kept", off)
				}
				if ev.Time.Nanosecond() != 250_000_000 {
					t.Errorf("got %d ns, want 250ms", ev.Time.Nanosecond())
				}
				if !ev.NeedsDecision() {
					t.Error("successful login needs a decision")
				}
			}},
		{"market order has no price",
			`{"id":"o1","type":"order","time":"2025-03-17T09:00:01Z","account":"A1","order_id":"x","symbol":"7992","side":"buy","quantity":100,"ip":"1.2.3.4"}`,
			func(t *testing.T, ev Event) {
				if ev.HasPrice || ev.Quantity != 100 || ev.AccountType != "cash" {
					t.Errorf("got HasPrice %v qty %d type %q, want market order of 100 in cash", ev.HasPrice, ev.Quantity, ev.AccountType)
				}
			}},
		{"limit order with a tick price",
			`{"id":"o2","type":"order","time":"2025-03-17T09:00:01+09:00","account":"A1","order_id":"x","symbol":"7992","side":"sell","quantity":100,"price":105.1,"account_type":"nisa","ip":"::1"}`,
			func(t *testing.T, ev Event) {
				if !ev.HasPrice || ev.Price != 105.1 || ev.AccountType != "nisa" {
					t.Errorf("got %+v", ev)
				}
			}},
		{"phone order without an address",
			`{"id":"o3","type":"order","time":"2025-03-17T09:00:01+09:00","account":"A1","order_id":"x","symbol":"7992","side":"sell","quantity":100,"channel":"phone"}`,
			func(t *testing.T, ev Event) {}},
		{"snapshot defaults notifications on",
			`{"id":"s","type":"snapshot","time":"2025-03-17T00:00:00+09:00","account":"A1","cash":1000.5,"holdings":[{"symbol":"7203","quantity":100,"cost":2100.5}],"margin":true,"opened":"2020-01-02","mfa":"passkey"}`,
			func(t *testing.T, ev Event) {
				if !ev.Notifications || len(ev.Holdings) != 1 || ev.Holdings[0].Cost != 2100.5 || ev.MFA != "passkey" {
					t.Errorf("got %+v", ev)
				}
			}},
		{"failed login needs no session and no decision",
			`{"id":"f","type":"login","time":"2025-03-17T00:00:00+09:00","account":"nobody","result":"failure","failure":"unknown_account","method":"password","ip":"1.2.3.4"}`,
			func(t *testing.T, ev Event) {
				if ev.NeedsDecision() {
					t.Error("failed login needs no decision")
				}
			}},
		{"quote without account", `{"id":"q","type":"quote","time":"2025-03-17T09:01:00+09:00","symbol":"7992","price":106,"volume":0}`,
			func(t *testing.T, ev Event) {
				if ev.Price != 106 || ev.Volume != 0 {
					t.Errorf("got %+v", ev)
				}
			}},
		{"fraud report", `{"id":"r","type":"fraud_report","time":"2025-03-18T09:01:00+09:00","account":"A1","channel":"phone"}`,
			func(t *testing.T, ev Event) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode([]byte(tt.line))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if string(ev.Raw) != tt.line {
				t.Errorf("Raw not kept")
			}
			tt.check(t, ev)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	long := strings.Repeat("x", MaxUserAgentLen+1)
	tests := []struct {
		name, line, field, code string
	}{
		{"malformed", `{"id":"e1","type":`, "", CodeMalformedJSON},
		{"not an object", `[1,2]`, "", CodeMalformedJSON},
		{"missing id", `{"type":"login","time":"2025-03-17T09:00:01+09:00"}`, "id", CodeMissingField},
		{"unknown type", `{"id":"e","type":"teleport","time":"2025-03-17T09:00:01+09:00","account":"A"}`, "type", CodeUnknownType},
		{"time without offset", `{"id":"e","type":"logout","time":"2025-03-17T09:00:01","account":"A"}`, "time", CodeBadTime},
		{"time not a string", `{"id":"e","type":"logout","time":12,"account":"A"}`, "time", CodeWrongType},
		{"missing account", `{"id":"e","type":"logout","time":"2025-03-17T09:00:01Z"}`, "account", CodeMissingField},
		{"quantity as string", `{"id":"o","type":"order","time":"2025-03-17T09:00:01Z","account":"A","order_id":"x","symbol":"1","side":"buy","quantity":"100","ip":"1.2.3.4"}`, "quantity", CodeWrongType},
		{"fractional quantity", `{"id":"o","type":"order","time":"2025-03-17T09:00:01Z","account":"A","order_id":"x","symbol":"1","side":"buy","quantity":1.5,"ip":"1.2.3.4"}`, "quantity", CodeWrongType},
		{"price as string", `{"id":"o","type":"order","time":"2025-03-17T09:00:01Z","account":"A","order_id":"x","symbol":"1","side":"buy","quantity":1,"price":"10","ip":"1.2.3.4"}`, "price", CodeWrongType},
		{"bad side", `{"id":"o","type":"order","time":"2025-03-17T09:00:01Z","account":"A","order_id":"x","symbol":"1","side":"short","quantity":1,"ip":"1.2.3.4"}`, "side", CodeBadValue},
		{"order missing ip", `{"id":"o","type":"order","time":"2025-03-17T09:00:01Z","account":"A","order_id":"x","symbol":"1","side":"buy","quantity":1}`, "ip", CodeMissingField},
		{"bad ip", `{"id":"l","type":"login","time":"2025-03-17T09:00:01Z","account":"A","result":"success","method":"passkey","session":"s","ip":"999.1.1.1"}`, "ip", CodeBadValue},
		{"login success without session", `{"id":"l","type":"login","time":"2025-03-17T09:00:01Z","account":"A","result":"success","method":"passkey","ip":"1.1.1.1"}`, "session", CodeMissingField},
		{"failure without reason", `{"id":"l","type":"login","time":"2025-03-17T09:00:01Z","account":"A","result":"failure","method":"password","ip":"1.1.1.1"}`, "failure", CodeMissingField},
		{"margin not bool", `{"id":"s","type":"snapshot","time":"2025-03-17T09:00:01Z","account":"A","margin":"yes"}`, "margin", CodeWrongType},
		{"holding without symbol", `{"id":"s","type":"snapshot","time":"2025-03-17T09:00:01Z","account":"A","holdings":[{"quantity":1}]}`, "holdings[0].symbol", CodeMissingField},
		{"oversized user agent", `{"id":"l","type":"login","time":"2025-03-17T09:00:01Z","account":"A","result":"success","method":"passkey","session":"s","ip":"1.1.1.1","user_agent":"` + long + `"}`, "user_agent", CodeOversizedField},
		{"oversized id", `{"id":"` + strings.Repeat("i", MaxIDLen+1) + `","type":"logout","time":"2025-03-17T09:00:01Z","account":"A"}`, "id", CodeOversizedField},
		{"negative amount", `{"id":"w","type":"withdrawal","time":"2025-03-17T09:00:01Z","account":"A","amount":-5,"ip":"1.1.1.1"}`, "amount", CodeBadValue},
		{"quote zero price", `{"id":"q","type":"quote","time":"2025-03-17T09:00:01Z","symbol":"1","price":0,"volume":1}`, "price", CodeBadValue},
		{"control character in id", `{"id":"a\u0000b","type":"logout","time":"2025-03-17T09:00:01Z","account":"A"}`, "id", CodeBadValue},
		{"control character in account", `{"id":"a","type":"logout","time":"2025-03-17T09:00:01Z","account":"A\n"}`, "account", CodeBadValue},
		{"bad change field", `{"id":"p","type":"profile_change","time":"2025-03-17T09:00:01Z","account":"A","field":"shoe_size","ip":"1.1.1.1"}`, "field", CodeBadValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.line))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FieldError", err)
			}
			if fe.Field != tt.field || fe.Code != tt.code {
				t.Errorf("got field %q code %q (%v), want field %q code %q", fe.Field, fe.Code, err, tt.field, tt.code)
			}
			if tt.field != "" && !strings.Contains(err.Error(), `"`+tt.field+`"`) {
				t.Errorf("message %q does not name the field", err)
			}
		})
	}
}

func TestReaderLinesAndGzip(t *testing.T) {
	text := "{\"a\":1}\n\n  \n{\"b\":2}\r\n{\"c\":3}"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(text))
	zw.Close()
	for name, in := range map[string]io.Reader{"plain": strings.NewReader(text), "gzip": &gz} {
		t.Run(name, func(t *testing.T) {
			rd, err := NewReader(in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var nums []int64
			for {
				line, n, err := rd.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(line))
				nums = append(nums, n)
			}
			if strings.Join(got, "|") != `{"a":1}|{"b":2}|{"c":3}` {
				t.Errorf("got %q", got)
			}
			if nums[0] != 1 || nums[1] != 4 || nums[2] != 5 {
				t.Errorf("got line numbers %v, want [1 4 5]", nums)
			}
		})
	}
}

func TestReaderTooLongLine(t *testing.T) {
	in := "{\"a\":1}\n" + strings.Repeat("x", MaxLineBytes+10) + "\n{\"b\":2}\n"
	rd, _ := NewReader(strings.NewReader(in))
	if _, _, err := rd.Next(); err != nil {
		t.Fatal(err)
	}
	_, n, err := rd.Next()
	var le *LineError
	if !errors.As(err, &le) || le.Err.Code != CodeLineTooLong || n != 2 {
		t.Fatalf("got %v at line %d, want line_too_long at line 2", err, n)
	}
	line, n, err := rd.Next()
	if err != nil || string(line) != `{"b":2}` || n != 3 {
		t.Fatalf("got %q %d %v, want the next line intact", line, n, err)
	}
}

func TestAppendDecisionIsValidJSON(t *testing.T) {
	d := Decision{ID: "e\"1\n", Account: "A<1>", Type: "order", Action: ActionHold, Score: 870,
		Reasons: []Reason{{Code: "X", Detail: "sold 96% in 4 min; ¥ \x01 \xff"}}}
	b := AppendDecision(nil, &d)
	var back Decision
	if err := jsonUnmarshal(b, &back); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if back.ID != d.ID || back.Account != d.Account || back.Action != ActionHold || back.Score != 870 ||
		back.Reasons[0].Detail != "sold 96% in 4 min; ¥ \x01 \ufffd" {
		t.Errorf("got %+v from %s", back, b)
	}
	empty := AppendDecision(nil, &Decision{ID: "a", Account: "b", Type: "login"})
	if !bytes.Contains(empty, []byte(`"reasons":[]`)) {
		t.Errorf("got %s, want reasons []", empty)
	}
}

// FuzzDecode: Decode never panics; an error is a coded *FieldError; an accepted event is complete and
// stable, its time has Unix nanoseconds and a store can hold it, its numbers are finite and within the
// default Limits, its raw bytes are UTF-8 with no repeated or case-variant contract key, and what the
// contract's own keys say is what the event holds.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"e1","type":"login","time":"2025-03-17T09:00:01.250+09:00","account":"A1","result":"success","method":"password_otp","session":"s1","ip":"153.156.10.20"}`))
	f.Add([]byte(`{"id":"o","type":"order","time":"2025-03-17T09:00:01Z","account":"A","order_id":"x","symbol":"1","side":"buy","quantity":1,"price":10.5,"ip":"::1"}`))
	f.Add([]byte(`{"id":"s","type":"snapshot","time":"2025-03-17T09:00:01Z","account":"A","cash":5,"holdings":[{"symbol":"1","quantity":5,"cost":1}]}`))
	f.Add([]byte(`{"id":"q","type":"quote","time":"2025-03-17T09:00:01Z","symbol":"1","price":1e308,"volume":1e13}`))
	f.Add([]byte(`{"id":"w","type":"withdrawal","time":"1600-01-01T00:00:00Z","account":"A","ip":"1.1.1.1","amount":1e300}`))
	f.Add([]byte(`{"id":"i","type":"instrument","time":"2262-04-11T23:47:16.854775807Z","symbol":"1","lot":100,"prev_close":1,"shares_outstanding":1,"avg_daily_volume":1}`))
	f.Add([]byte(`{"id":"e","type":"logout","time":"2025-03-17T09:00:01Z","account":"A","ACCOUNT":"B","\u0061ccount":"C"}`))
	f.Add([]byte("{\"id\":\"e\",\"type\":\"logout\",\"time\":\"2025-03-17T09:00:01Z\",\"account\":\"A\xff\\udc00\"}"))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Decode(b)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Code == "" {
				t.Fatalf("error %v is not a coded *FieldError", err)
			}
			if !utf8.ValidString(fe.Field) {
				t.Fatalf("field %q of %v is not UTF-8", fe.Field, err)
			}
			return
		}
		// A decoded event is valid: it has an id, a known type and a time, and re-decoding is stable.
		if ev.ID == "" || ev.Type == TypeUnknown || ev.Time.IsZero() {
			t.Fatalf("accepted an incomplete event: %+v", ev)
		}
		again, err := Decode(b)
		if err != nil || again.ID != ev.ID || !again.Time.Equal(ev.Time) || again.Time.Location().String() != ev.Time.Location().String() {
			t.Fatalf("decode not stable: %v", err)
		}
		if ev.Time.Before(MinTime) || !ev.Time.Before(MaxTime) || !time.Unix(0, ev.Time.UnixNano()).Equal(ev.Time) {
			t.Fatalf("time out of range accepted: %v", ev.Time)
		}
		if _, err := DecodeStored(b); err != nil {
			t.Fatalf("accepted, but not as a stored event: %v", err)
		}
		for name, v := range map[string]float64{"price": ev.Price, "prev_close": ev.PrevClose, "cash": ev.Cash, "fee": ev.Fee, "amount": ev.Amount} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > DefaultMaxYen {
				t.Fatalf("%s %v accepted", name, v)
			}
		}
		for name, v := range map[string]float64{"quantity": float64(ev.Quantity), "volume": float64(ev.Volume), "lot": float64(ev.Lot),
			"shares_outstanding": ev.SharesOutstanding, "avg_daily_volume": ev.AvgDailyVolume} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > DefaultMaxShares {
				t.Fatalf("%s %v accepted", name, v)
			}
		}
		for _, h := range ev.Holdings {
			if h.Quantity < 0 || float64(h.Quantity) > DefaultMaxShares || math.IsNaN(h.Cost) || h.Cost < 0 || h.Cost > DefaultMaxYen {
				t.Fatalf("holding %+v accepted", h)
			}
		}
		if !utf8.Valid(b) {
			t.Fatalf("accepted bytes that are not UTF-8: %q", b)
		}
		// The standard library's reading of the same bytes (exact keys, last wins) agrees with the event
		// on every contract string that it holds once.
		var m map[string]any
		if err := jsonUnmarshal(b, &m); err == nil {
			for key, got := range map[string]string{"id": ev.ID, "account": ev.Account, "symbol": ev.Symbol, "session": ev.Session,
				"ip": ev.IP, "device": ev.Device, "order_id": ev.OrderID, "user_agent": ev.UserAgent} {
				if v, ok := m[key].(string); ok && v != got {
					t.Fatalf("key %q holds %q, the event %q", key, v, got)
				}
			}
		}
	})
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("a\nb\r\n\n c \n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rd, err := NewReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		var last int64
		for {
			line, n, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				var le *LineError
				if !errors.As(err, &le) {
					return // a broken gzip stream
				}
				continue
			}
			if n <= last || len(bytes.TrimSpace(line)) != len(line) || len(line) == 0 {
				t.Fatalf("line %d after %d: %q", n, last, line)
			}
			last = n
		}
	})
}
