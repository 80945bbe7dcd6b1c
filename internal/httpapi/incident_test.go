package httpapi

import (
	"strings"
	"testing"
)

// takeoverTimeline is one account's takeover, in the contract: its own login the day before, an
// attacker's login from a hosting network on a new device, the sale of its holding, a buy of a thin
// stock, the executions, the next day's closing quotes and the customer's fraud report.
var takeoverTimeline = []string{
	`{"id":"i1","type":"instrument","time":"2025-04-09T08:00:00+09:00","symbol":"7203","name":"Toyota","market":"prime","lot":100,"shares_outstanding":1500000000,"prev_close":3000,"avg_daily_volume":20000000}`,
	`{"id":"i2","type":"instrument","time":"2025-04-09T08:00:00+09:00","symbol":"8012","name":"Thin","market":"growth","lot":100,"shares_outstanding":9000000,"prev_close":300,"avg_daily_volume":20000}`,
	`{"id":"s1","type":"snapshot","time":"2025-04-09T08:30:00+09:00","account":"VIC","cash":0,"holdings":[{"symbol":"7203","quantity":100,"cost":2500}],"margin":false,"opened":"2015-01-01","mfa":"none","notifications":true}`,
	`{"id":"q1","type":"quote","time":"2025-04-09T09:01:00+09:00","symbol":"7203","price":3000,"volume":100000}`,
	`{"id":"q2","type":"quote","time":"2025-04-09T09:01:00+09:00","symbol":"8012","price":300,"volume":1000}`,
	`{"id":"l1","type":"login","time":"2025-04-09T20:00:00+09:00","account":"VIC","result":"success","method":"password","session":"sv1","ip":"198.51.100.4","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36","device":"dev-v","channel":"web"}`,
	`{"id":"l2","type":"login","time":"2025-04-10T09:10:00+09:00","account":"VIC","result":"success","method":"password","session":"sx1","ip":"45.76.1.2","country":"SG","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Safari/537.36","device":"dev-x","channel":"web"}`,
	`{"id":"o1","type":"order","time":"2025-04-10T09:11:00+09:00","account":"VIC","order_id":"ord-1","session":"sx1","ip":"45.76.1.2","device":"dev-x","symbol":"7203","side":"sell","quantity":100,"account_type":"cash","channel":"web"}`,
	`{"id":"x1","type":"execution","time":"2025-04-10T09:11:01+09:00","account":"VIC","order_id":"ord-1","exec_id":"ex-1","symbol":"7203","side":"sell","quantity":100,"price":3000,"fee":100}`,
	`{"id":"o2","type":"order","time":"2025-04-10T09:12:00+09:00","account":"VIC","order_id":"ord-2","session":"sx1","ip":"45.76.1.2","device":"dev-x","symbol":"8012","side":"buy","quantity":1000,"price":300,"account_type":"cash","channel":"web"}`,
	`{"id":"x2","type":"execution","time":"2025-04-10T09:12:01+09:00","account":"VIC","order_id":"ord-2","exec_id":"ex-2","symbol":"8012","side":"buy","quantity":1000,"price":300,"fee":50}`,
	`{"id":"fr","type":"fraud_report","time":"2025-04-10T20:00:00+09:00","account":"VIC","channel":"phone"}`,
	`{"id":"q3","type":"quote","time":"2025-04-11T15:00:00+09:00","symbol":"7203","price":3100,"volume":100000}`,
	`{"id":"q4","type":"quote","time":"2025-04-11T15:00:00+09:00","symbol":"8012","price":200,"volume":1000}`,
}

func TestIncidentFromFraudReportToApproval(t *testing.T) {
	f := newFixture(t)
	for _, ev := range takeoverTimeline {
		if status, _, body := f.do(t, "POST", "/v1/events", ingestKey, ev); status != 200 {
			t.Fatalf("event: %d %s", status, body)
		}
	}
	// The fraud report opened an incident.
	_, m, body := f.do(t, "GET", "/v1/incidents", readKey, "")
	incs, _ := m["incidents"].([]any)
	if len(incs) != 1 {
		t.Fatalf("incidents = %s", body)
	}
	inc := incs[0].(map[string]any)
	if inc["id"] != "inc-fr" || inc["account"] != "VIC" || inc["source"] != "fraud_report" || inc["status"] != "open" {
		t.Fatalf("incident = %v", inc)
	}
	// The analyst excludes nothing yet but adds the sale, which detection may not have flagged; the
	// incident is materialised with detection's proposal first.
	status, m, body := f.do(t, "POST", "/v1/incidents/inc-fr/orders", analystKey, `{"add":["ord-1"],"reason":"customer confirms the sale was not theirs"}`)
	if status != 200 {
		t.Fatalf("orders: %d %s", status, body)
	}
	if ev, _ := m["incident"].(map[string]any)["evidence"].([]any); len(ev) != 2 || !strings.Contains(body, `"login":"l2"`) || !strings.Contains(body, "NEW_COUNTRY") {
		t.Errorf("detection's evidence: %s", body)
	}
	orders := m["incident"].(map[string]any)["orders"].([]any)
	if len(orders) != 2 || !strings.Contains(body, "ord-2") {
		t.Errorf("orders = %v (want detection's ord-2 and the added ord-1)", orders)
	}
	// A second report of the same account joins the incident being worked.
	if status, _, body := f.do(t, "POST", "/v1/events", ingestKey, `{"id":"fr2","type":"fraud_report","time":"2025-04-11T16:00:00+09:00","account":"VIC","channel":"web"}`); status != 200 {
		t.Fatalf("second report: %d %s", status, body)
	}
	if _, m, body := f.do(t, "GET", "/v1/incidents?account=VIC", readKey, ""); len(m["incidents"].([]any)) != 1 {
		t.Errorf("a second report opened another incident: %s", body)
	}
	if status, _, body := f.do(t, "GET", "/v1/incidents/inc-fr/reconstruction", readKey, ""); status != 200 || !strings.Contains(body, `"ex-2"`) {
		t.Errorf("reconstruction: %d %s", status, body)
	}
	if status, m, _ := f.do(t, "POST", "/v1/incidents/inc-fr/assess", analystKey, `{"policy":"colour","reason":"x"}`); status != 400 || !strings.Contains(m["error"].(map[string]any)["message"].(string), "colour") {
		t.Errorf("unknown policy: %d %v", status, m)
	}
	// Restore: 7203 (100 − 0) × 3100 − 300,000 = 10,000; 8012 (0 − 1000) × 200 + 300,000 = 100,000; fees 150.
	status, m, body = f.do(t, "POST", "/v1/incidents/inc-fr/assess", analystKey, `{"policy":"restore","reason":"valued on the next trading day's close"}`)
	if status != 200 {
		t.Fatalf("assess: %d %s", status, body)
	}
	got := m["incident"].(map[string]any)
	if got["status"] != "assessed" || !strings.Contains(body, `"recommended":"110150"`) || !strings.Contains(body, `"valuation_date":"2025-04-11"`) {
		t.Errorf("assessment: %s", body)
	}
	// Only a supervisor approves, and not the assessor.
	if status, _, _ := f.do(t, "POST", "/v1/incidents/inc-fr/approve", analystKey, `{"reason":"ok"}`); status != 403 {
		t.Errorf("analyst approved: %d", status)
	}
	status, m, body = f.do(t, "POST", "/v1/incidents/inc-fr/approve", superKey, `{"reason":"four-eyes check done"}`)
	if status != 200 || m["incident"].(map[string]any)["status"] != "approved" || !strings.Contains(body, `"amount":"110150"`) {
		t.Fatalf("approve: %d %s", status, body)
	}
	// Final: no more changes.
	if status, m, _ := f.do(t, "POST", "/v1/incidents/inc-fr/executions", analystKey, `{"exclude":["ex-1"],"reason":"late"}`); status != 409 || errCode(m) != CodeConflict {
		t.Errorf("edit after approval: %d %v", status, m)
	}
	// The tally counts it: one access (the attacker's login), two trades, sold 300,000, bought 300,000.
	status, _, body = f.do(t, "GET", "/v1/tally?format=csv", readKey, "")
	if status != 200 || !strings.Contains(body, "2025-04,1,2,300000,300000,1") {
		t.Errorf("tally: %d %s", status, body)
	}
	// The evidence file and the CSV of compensation decisions carry the approved figures.
	status, _, body = f.do(t, "GET", "/v1/incidents/inc-fr/evidence", readKey, "")
	if status != 200 || !strings.Contains(body, "<html") || !strings.Contains(body, "110,150") || !strings.Contains(body, "chief-ito") {
		t.Errorf("evidence: %d %.300s", status, body)
	}
	status, _, body = f.do(t, "GET", "/v1/compensations", readKey, "")
	if status != 200 || !strings.Contains(body, "inc-fr,") || !strings.Contains(body, ",110150,approved,") {
		t.Errorf("compensations: %d %s", status, body)
	}
	// File the tally for April, then see it as filed beside the current figures.
	if status, _, _ := f.do(t, "POST", "/v1/tally/filings", analystKey, `{"filing":"2025-04","reason":"monthly report"}`); status != 403 {
		t.Errorf("analyst filed the tally: %d", status)
	}
	if status, _, body := f.do(t, "POST", "/v1/tally/filings", superKey, `{"filing":"2025-04","reason":"monthly report"}`); status != 201 {
		t.Fatalf("file: %d %s", status, body)
	}
	if status, m, _ := f.do(t, "POST", "/v1/tally/filings", superKey, `{"filing":"2025-04","reason":"again"}`); status != 409 || errCode(m) != CodeConflict {
		t.Errorf("second filing of the same name: %d %v", status, m)
	}
	status, m, body = f.do(t, "GET", "/v1/tally/revisions", readKey, "")
	if status != 200 || !strings.Contains(body, `"filed_in":"2025-04"`) || !strings.Contains(body, `"revised":false`) {
		t.Errorf("revisions: %d %s", status, body)
	}
	// Every step is in the audit trail.
	_, m, _ = f.do(t, "GET", "/v1/audit?target=incident:inc-fr", readKey, "")
	var actions []string
	for _, r := range m["records"].([]any) {
		actions = append(actions, r.(map[string]any)["action"].(string))
	}
	if strings.Join(actions, ",") != "incident.open,incident.orders,incident.assess,incident.approve" {
		t.Errorf("audit actions = %v", actions)
	}
}

func TestDetectionProposesIncidents(t *testing.T) {
	f := newFixture(t)
	// The customer never reports it. The attacker comes from the customer's own provider this time and
	// buys the thin stock on margin: the login passes, the margin buy is held.
	for _, ev := range takeoverTimeline {
		if strings.Contains(ev, `"fraud_report"`) {
			continue
		}
		ev = strings.ReplaceAll(strings.ReplaceAll(ev, "45.76.1.2", "198.51.7.7"), `"country":"SG",`, "")
		ev = strings.Replace(ev, `"price":300,"account_type":"cash"`, `"price":300,"account_type":"margin"`, 1)
		if status, _, body := f.do(t, "POST", "/v1/events", ingestKey, ev); status != 200 {
			t.Fatalf("event: %d %s", status, body)
		}
	}
	_, m, body := f.do(t, "GET", "/v1/incidents?status=proposed", readKey, "")
	incs, _ := m["incidents"].([]any)
	if len(incs) != 1 {
		t.Fatalf("proposals = %s", body)
	}
	p := incs[0].(map[string]any)
	id := p["id"].(string)
	if p["account"] != "VIC" || p["source"] != "detection" || !strings.HasPrefix(id, "prop-") {
		t.Fatalf("proposal = %v", p)
	}
	// Working it opens it with detection's orders: the sale and the buy of the attacker's session.
	status, _, body := f.do(t, "POST", "/v1/incidents/"+id+"/assess", analystKey, `{"policy":"restore","reason":"customer reached by phone, confirms"}`)
	if status != 200 || !strings.Contains(body, `"recommended":"110150"`) || !strings.Contains(body, `"source":"detection"`) {
		t.Fatalf("assess: %d %s", status, body)
	}
	if _, m, _ := f.do(t, "GET", "/v1/incidents?status=proposed", readKey, ""); len(m["incidents"].([]any)) != 0 {
		t.Errorf("still proposed after being worked: %v", m)
	}
}
