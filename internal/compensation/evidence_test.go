package compensation

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/reconstruct"
)

// hostileIncident is an incident on an account whose id and fraud report note carry markup.
func hostileIncident(t *testing.T) (*reconstruct.Reconstruction, *Result, *Policy) {
	t.Helper()
	const acct = `<script>alert("x")</script>`
	var tl timeline
	tl.Snapshot("04-10 06:00", acct, "7203:500")
	tl.Login("04-10 09:01", acct, "sA")
	tl.Trade("04-10 09:02", acct, "o1", "sA", "7203", "sell", 500, "2600", "660", "cash")
	tl.Trade("04-10 09:05", acct, "o2", "sA", "7992", "buy", 4000, "123.5", "550", "margin")
	tl.Quote("04-14 15:00", "7203", "2640")
	tl.Quote("04-14 15:00", "7992", "99.9")
	tl.Add("fraud_report", "04-11 19:00", `"account":"<script>alert(\"x\")</script>","channel":"phone","note":"<img src=x onerror=alert(1)> not me"`)
	inc := reconstruct.Claim{Line: 3, ID: "case-<b>1</b>", Account: acct, Orders: []string{"o1", "o2"}, Factors: []string{"reuse_admitted"}}
	b := collect(t, &tl, inc)
	rec := reconstructOf(t, b, inc)
	p, err := LoadPolicy("testdata/firm.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Assess(rec, b, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rec, res, p
}

func TestWriteEvidence(t *testing.T) {
	rec, res, p := hostileIncident(t)
	var buf bytes.Buffer
	gen := time.Date(2025, 5, 1, 3, 0, 0, 0, time.UTC)
	if err := WriteEvidence(&buf, &Evidence{Generated: gen, Rec: rec, Result: res, Policy: p}); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	// restore = 500×2,640 − 4,000×99.9 − 1,300,000 + 494,000 + 1,210 = 115,610; reuse admitted −20
	// points of it: 92,488.
	for _, want := range []string{
		"<!DOCTYPE html>",
		"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", // the account, escaped
		"case-&lt;b&gt;1&lt;/b&gt; (incidents line 3)",
		"&lt;img src=x onerror=alert(1)&gt; not me", // the customer's note, escaped
		"generated 2025-05-01 12:00:00.000 JST",
		"2025-04-10 09:01:00.000</td><td>login (password)</td><td>sA</td><td>address 203.0.113.9</td>",
		"2025-04-10 09:05:00.000</td><td>execution</td><td>sA</td><td>order o2: buy 7992 × 4,000 at 123.5 yen = 494,000 yen, fee 550 yen</td>",
		"<td>fraud report</td>",
		`<td>7992</td><td>margin</td><td class="num">0</td><td class="num">4,000</td><td class="num">494,000</td>`,
		`<td class="num">99.9</td><td>quote 2025-04-14 15:00:00.000 (e8)</td><td class="num">94,950</td><td class="num">94,400</td>`,
		`<td colspan="4">Total</td><td class="num">494,000</td><td></td><td class="num">1,300,000</td><td class="num">1,210</td><td></td><td></td><td class="num">115,610</td>`,
		`<tr class="base"><td>restore (this firm's base)</td>`,
		`<td>reuse_admitted</td><td>customer</td><td>-20 points</td><td class="num">-23,122</td>`,
		`<p class="recommended">92,488 yen</p>`,
		"Valuation date</dt><dd>2025-04-14 (the first trading day after the report of 2025-04-11 19:00:00.000 JST)",
		"Pending supervisor approval",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the evidence lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "<img", "<b>", "http://", "https://", "<link", "url("} {
		if strings.Contains(html, bad) {
			t.Errorf("the evidence contains %q: markup from the data, or an external asset", bad)
		}
	}

	// Approved: the approvals replace the pending notice.
	buf.Reset()
	err := WriteEvidence(&buf, &Evidence{Heading: "Example Securities", Generated: gen, Rec: rec, Result: res, Policy: p,
		Approvals: []Approval{{Time: gen, Actor: "supervisor <1>", Role: "compliance", Decision: "approved", Note: "ok"}}})
	if err != nil {
		t.Fatal(err)
	}
	html = buf.String()
	if strings.Contains(html, "Pending supervisor approval") || !strings.Contains(html, "<td>supervisor &lt;1&gt;</td><td>compliance</td><td>approved</td><td class=\"num\">92,488</td>") ||
		!strings.Contains(html, "<h1>Example Securities</h1>") {
		t.Errorf("approved evidence:\n%s", html[strings.Index(html, "<h2>Approvals"):])
	}
	if err := WriteEvidence(&buf, &Evidence{Rec: rec, Result: ErrorResult(errTest), Policy: p}); err == nil {
		t.Error("an incident that was not computed has no evidence file; got no error")
	}
}

var errTest = &reconstruct.ClaimError{Line: 1, Msg: "boom"}

func TestWriteDecisionsCSV(t *testing.T) {
	_, res, _ := hostileIncident(t)
	var buf bytes.Buffer
	if err := WriteDecisionsCSV(&buf, []*Result{res, ErrorResult(&reconstruct.ClaimError{Line: 4, Account: "Z9", Msg: `order "o1": not in the event log`})}); err != nil {
		t.Fatal(err)
	}
	want := "incident,line,account,valuation_date,valuation_basis,policy,base,restore_loss,restore,half_purchased,half_total,policy_amount,factors,recommended,status,error\n" +
		`case-<b>1</b>,3,"<script>alert(""x"")</script>",2025-04-14,fraud_report,example-securities-2025,restore,115610,115610,58410,57805,115610,reuse_admitted -20 points = -23122,92488,pending approval,` + "\n" +
		`,4,Z9,,,,,,,,,,,,not computed,"incidents line 4: order ""o1"": not in the event log"` + "\n"
	if got := buf.String(); got != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", got, want)
	}
	buf.Reset()
	if err := WriteDecisionsCSVStatus(&buf, []*Result{res}, []string{"approved"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), ",92488,approved,\n") {
		t.Errorf("CSV with statuses:\n%s", buf.String())
	}
}
