package reconstruct

import (
	"strings"
	"testing"
)

func TestReadIncidents(t *testing.T) {
	in := strings.Join([]string{
		`{"account":"A1","orders":["o1","o2"],"report_time":"2025-04-11T18:46:52.622+09:00","factors":["reuse_admitted"],"id":"inc-1"}`,
		``,
		`{"account":"A2","orders":["o3"]}`,
		`{"account":"A3","orders":"o4"}`,
		`{"account":"A4","orders":["o5"],"report_time":"yesterday"}`,
		`{"account":"A5","orders":["o6","o6"]}`,
		`{"orders":["o7"]}`,
		`{"account":"A6","orders":["o8"],"report_tme":"2025-04-11T18:00:00+09:00"}`,
		`{"account":"A7","orders":["o9"]`,
		`{"account":"A8","orders":[],"sessions":["s1"]}`,
		`{"account":"A9"}`,
		`[1,2]`,
	}, "\n")
	incs, bad, err := ReadIncidents(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 3 || incs[0].Line != 1 || incs[1].Line != 3 || incs[2].Line != 10 {
		t.Fatalf("got %+v, want the incidents of lines 1, 3 and 10", incs)
	}
	if i := incs[0]; i.ID != "inc-1" || len(i.Orders) != 2 || i.ReportTime.IsZero() || i.Factors[0] != "reuse_admitted" {
		t.Errorf("line 1: got %+v", i)
	}
	wants := []string{
		`incidents line 4: field "orders": want a list of strings, got string`,
		`incidents line 5: field "report_time": want RFC 3339`,
		`incidents line 6: field "orders": "o6" is listed twice`,
		`incidents line 7: field "account": required`,
		`incidents line 8: unknown field "report_tme"`,
		`incidents line 9: malformed JSON`,
		`incidents line 11: field "orders": required`,
		`incidents line 12: want a JSON object`,
	}
	if len(bad) != len(wants) {
		t.Fatalf("got %d errors, want %d: %v", len(bad), len(wants), bad)
	}
	for i, w := range wants {
		if !strings.Contains(bad[i].Error(), w) {
			t.Errorf("error %d: got %q, want %q", i, bad[i].Error(), w)
		}
	}
	if bad[2].Account != "A5" {
		t.Errorf("the error of line 6 should name its account, got %q", bad[2].Account)
	}
}

func FuzzParseIncident(f *testing.F) {
	f.Add([]byte(`{"account":"A1","orders":["o1"],"report_time":"2025-04-11T18:46:52+09:00"}`))
	f.Add([]byte(`{"account":"A1","orders":[],"sessions":["s"],"factors":["x"],"id":"i"}`))
	f.Add([]byte(`{"account":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		inc, err := ParseIncident(b)
		if err != nil {
			if err.Msg == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if inc.Account == "" || len(inc.Orders)+len(inc.Sessions) == 0 {
			t.Fatalf("accepted an incident without an account or orders: %+v", inc)
		}
	})
}
