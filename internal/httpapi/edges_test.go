package httpapi

import (
	"strings"
	"testing"
)

// TestEventsAtTheEdgesOfTheInput: an event that the decoder refuses is a 422 naming its field (alone)
// or a rejected result with its code (in an array), never a 500; and it leaves the service taking the
// events after it (a time of 1600 used to answer 500 and move the lateness watermark to 2184).
func TestEventsAtTheEdgesOfTheInput(t *testing.T) {
	f := newFixture(t)
	lines := sampleLines(t)
	old := `{"id":"old","type":"logout","time":"1600-01-01T00:00:00Z","account":"A1","session":"s"}`
	huge := `{"id":"huge","type":"order","time":"2025-03-10T09:00:00+09:00","account":"A1","order_id":"oh","symbol":"7203","side":"buy","quantity":100,"price":1e308,"ip":"153.1.4.9"}`
	twice := `{"id":"twice","type":"logout","time":"2025-03-10T09:00:00+09:00","account":"A1","ACCOUNT":"B2"}`
	tests := []struct {
		name, body    string
		status        int
		code, field   string
		inMessage     string
		resultCodes   []string
		resultFields  []string
		resultsStatus []string
	}{
		{name: "a time of 1600", body: old, status: 422, code: "bad_time", field: "time", inMessage: "bad_time"},
		{name: "a price of 1e308", body: huge, status: 422, code: "out_of_range", field: "price", inMessage: "out_of_range"},
		{name: "a case-variant key", body: twice, status: 422, code: "key_case", field: "account", inMessage: "key_case"},
		{name: "in an array", body: "[" + old + "," + huge + "," + twice + "," + lines[0] + "]", status: 200,
			resultCodes: []string{"bad_time", "out_of_range", "key_case", ""}, resultFields: []string{"time", "price", "account", ""},
			resultsStatus: []string{"rejected", "rejected", "rejected", "accepted"}},
		{name: "the next event is taken", body: lines[1], status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m, raw := f.do(t, "POST", "/v1/events", ingestKey, tt.body)
			if status != tt.status {
				t.Fatalf("got %d %s, want %d", status, raw, tt.status)
			}
			if tt.code != "" {
				e, _ := m["error"].(map[string]any)
				if errCode(m) != tt.code || e["field"] != tt.field || !strings.Contains(e["message"].(string), tt.inMessage) {
					t.Errorf("got %s, want code %s, field %s and %q in the message", raw, tt.code, tt.field, tt.inMessage)
				}
			}
			if tt.resultCodes != nil {
				results, _ := m["results"].([]any)
				if len(results) != len(tt.resultCodes) {
					t.Fatalf("got %s, want %d results", raw, len(tt.resultCodes))
				}
				for i, r := range results {
					r := r.(map[string]any)
					e, _ := r["error"].(map[string]any)
					code, _ := e["code"].(string)
					field, _ := e["field"].(string)
					if r["status"] != tt.resultsStatus[i] || code != tt.resultCodes[i] || field != tt.resultFields[i] {
						t.Errorf("result %d: got %v, want %s %s on %q", i, r, tt.resultsStatus[i], tt.resultCodes[i], tt.resultFields[i])
					}
				}
			}
			if tt.status == 200 && tt.resultCodes == nil && strings.Contains(raw, "too_late") {
				t.Errorf("got %s, want the event taken", raw)
			}
		})
	}
	if status, _, raw := f.do(t, "GET", "/readyz", "", ""); status != 200 {
		t.Errorf("readyz: got %d %s, want 200", status, raw)
	}
}
