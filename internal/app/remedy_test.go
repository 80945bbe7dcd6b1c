package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brokerguard/brokerguard/internal/compensation"
	"github.com/brokerguard/brokerguard/internal/report"
)

// runCmd runs one subcommand function in-process.
func runCmd(t *testing.T, cmd func(context.Context, []string, IO) error, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := cmd(context.Background(), args, IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Environ: []string{}})
	return out.String(), errb.String(), err
}

// remedyEvents is a firm's log on Thursday 10 April 2025: A1 is taken over (its holdings of 7203 sold,
// 7992 bought, partly on margin), B2 trades on its own; A1 reports on Friday evening.
const remedyEvents = `{"id":"e1","type":"snapshot","time":"2025-04-10T06:00:00+09:00","account":"A1","cash":50000,"holdings":[{"symbol":"7203","quantity":500,"cost":2500}],"mfa":"none"}
{"id":"e2","type":"snapshot","time":"2025-04-10T06:00:00+09:00","account":"B2","cash":900000,"holdings":[]}
{"id":"e3","type":"login","time":"2025-04-10T09:01:00+09:00","account":"A1","result":"success","method":"password","session":"sA","ip":"198.51.100.7"}
{"id":"e4","type":"order","time":"2025-04-10T09:02:00+09:00","account":"A1","order_id":"o1","session":"sA","ip":"198.51.100.7","symbol":"7203","side":"sell","quantity":500,"account_type":"cash"}
{"id":"e5","type":"execution","time":"2025-04-10T09:02:01+09:00","account":"A1","order_id":"o1","exec_id":"x1","symbol":"7203","side":"sell","quantity":500,"price":2600,"fee":660}
{"id":"e6","type":"order","time":"2025-04-10T09:05:00+09:00","account":"A1","order_id":"o2","session":"sA","ip":"198.51.100.7","symbol":"7992","side":"buy","quantity":4000,"account_type":"margin"}
{"id":"e7","type":"execution","time":"2025-04-10T09:05:01+09:00","account":"A1","order_id":"o2","exec_id":"x2","symbol":"7992","side":"buy","quantity":4000,"price":123.5,"fee":550}
{"id":"e8","type":"order","time":"2025-04-10T10:00:00+09:00","account":"B2","order_id":"o3","session":"sB","ip":"192.0.2.1","symbol":"7992","side":"buy","quantity":100,"account_type":"cash"}
{"id":"e9","type":"quote","time":"2025-04-10T15:00:00+09:00","symbol":"7203","price":2610,"volume":1000}
{"id":"e10","type":"quote","time":"2025-04-11T15:00:00+09:00","symbol":"7203","price":2650,"volume":1000}
{"id":"e11","type":"quote","time":"2025-04-11T15:00:00+09:00","symbol":"7992","price":101.2,"volume":1000}
{"id":"e12","type":"fraud_report","time":"2025-04-11T19:00:00+09:00","account":"A1","channel":"phone"}
{"id":"e13","type":"quote","time":"2025-04-14T15:00:00+09:00","symbol":"7203","price":2640,"volume":1000}
{"id":"e14","type":"quote","time":"2025-04-14T15:00:00+09:00","symbol":"7992","price":99.9,"volume":1000}
this line is not an event
`

const remedyIncidents = `{"account":"A1","orders":["o1","o2"],"factors":["reuse_admitted"],"id":"case-1"}
{"account":"A1","orders":["o3"]}
{"account":"A1","orders":"o1"}
{"account":"Z9","orders":["o1"]}
`

func writeRemedyFiles(t *testing.T) (dir string) {
	t.Helper()
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, "events.jsonl"), []byte(remedyEvents), 0o600)
	os.WriteFile(filepath.Join(dir, "incidents.jsonl"), []byte(remedyIncidents), 0o600)
	os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(`name: firm
base: half_total
factors:
  - key: reuse_admitted
    side: customer
    points: -20
    wording: You used the same password at another service.
`), 0o600)
	return dir
}

func TestCompensateCommand(t *testing.T) {
	dir := writeRemedyFiles(t)
	p := func(n string) string { return filepath.Join(dir, n) }
	_, errOut, err := runCmd(t, runCompensate, "--events", p("events.jsonl"), "--incidents", p("incidents.jsonl"),
		"--policy", p("policy.yaml"), "--out", p("out.jsonl"))
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	b, _ := os.ReadFile(p("out.jsonl"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d output lines, want one per incident:\n%s", len(lines), b)
	}
	var res struct {
		Line           int    `json:"line"`
		ID             string `json:"id"`
		ValuationDate  string `json:"valuation_date"`
		ValuationBasis string `json:"valuation_basis"`
		RestoreLoss    string `json:"restore_loss"`
		Fees           string `json:"fees"`
		Symbols        []struct {
			Symbol         string   `json:"symbol"`
			AccountTypes   []string `json:"account_types"`
			HeldBefore     int64    `json:"held_before"`
			BoughtYen      string   `json:"bought_yen"`
			ValuationPrice struct {
				Price, Source, Event string
			} `json:"valuation_price"`
		} `json:"symbols"`
		Amounts  map[string]string `json:"amounts"`
		Decision struct {
			Policy       string `json:"policy"`
			PolicyAmount string `json:"policy_amount"`
			Factors      []struct {
				Key, Effect string
			} `json:"factors"`
			Recommended string `json:"recommended"`
			Explanation string `json:"explanation"`
		} `json:"decision"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &res); err != nil {
		t.Fatal(err)
	}
	// Reported Friday 11 April: valued at Monday 14 April's quotes, 7203 at 2,640 and 7992 at 99.9.
	// restore = 500×2,640 − 4,000×99.9 − 1,300,000 + 494,000 + 1,210 = 115,610.
	// half_purchased: loss_7992 = 494,000 − 399,600 = 94,400 → 47,200 + 1,210 + 10,000 = 58,410.
	// half_total = 57,805; reuse admitted: −20 points = −11,561 → 46,244.
	if res.Line != 1 || res.ID != "case-1" || res.ValuationDate != "2025-04-14" || res.ValuationBasis != "fraud_report" {
		t.Errorf("got line %d id %q valued %s on %s", res.Line, res.ID, res.ValuationDate, res.ValuationBasis)
	}
	if res.RestoreLoss != "115610" || res.Fees != "1210" {
		t.Errorf("restore loss %s, fees %s; want 115610, 1210", res.RestoreLoss, res.Fees)
	}
	if a := res.Amounts; a["restore"] != "115610" || a["half_purchased"] != "58410" || a["half_total"] != "57805" {
		t.Errorf("amounts: got %v", a)
	}
	if len(res.Symbols) != 2 || res.Symbols[0].Symbol != "7203" || res.Symbols[0].HeldBefore != 500 ||
		res.Symbols[1].BoughtYen != "494000" || res.Symbols[1].AccountTypes[0] != "margin" ||
		res.Symbols[1].ValuationPrice.Price != "99.9" || res.Symbols[1].ValuationPrice.Event != "e14" {
		t.Errorf("symbols: got %+v", res.Symbols)
	}
	d := res.Decision
	if d.Policy != "firm" || d.PolicyAmount != "57805" || len(d.Factors) != 1 || d.Factors[0].Effect != "-11561" ||
		d.Recommended != "46244" || !strings.Contains(d.Explanation, "same password") {
		t.Errorf("decision: got %+v", d)
	}
	for i, want := range []string{
		`"line":2,"account":"A1","error":"incidents line 2: order \"o3\": belongs to account \"B2\", not \"A1\""`,
		`"line":3,"error":"incidents line 3: field \"orders\": want a list of strings`,
		`"line":4,"account":"Z9","error":"incidents line 4: account \"Z9\": no events`,
	} {
		if !strings.Contains(lines[i+1], want) {
			t.Errorf("line %d: got %s, want %s", i+2, lines[i+1], want)
		}
	}
	for _, want := range []string{"incidents line 2: order", "incidents line 3:", "incidents line 4:",
		"events: line 15:", "4 incidents, 1 computed, 3 errors", "46,244 yen"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}

	// An override of the valuation date.
	out, _, err := runCmd(t, runCompensate, "--events", p("events.jsonl"), "--incidents", p("incidents.jsonl"),
		"--policy", p("policy.yaml"), "--valuation-date", "2025-04-11", "--out", "-")
	if err != nil {
		t.Fatal(err)
	}
	// 500×2,650 − 4,000×101.2 − 1,300,000 + 494,000 + 1,210 = 115,410.
	first := strings.SplitN(out, "\n", 2)[0]
	if !strings.Contains(first, `"valuation_basis":"override"`) || !strings.Contains(first, `"restore_loss":"115410"`) {
		t.Errorf("override: got %s", first)
	}
	// A built-in policy has no case factors: an incident that names one is an error for its line.
	out, _, err = runCmd(t, runCompensate, "--events", p("events.jsonl"), "--incidents", p("incidents.jsonl"),
		"--policy", "restore", "--out", "-")
	if err != nil {
		t.Fatal(err)
	}
	if first := strings.SplitN(out, "\n", 2)[0]; !strings.Contains(first, `factor \"reuse_admitted\": policy \"restore\" does not define it`) {
		t.Errorf("factor with a built-in policy: got %s", first)
	}
}

func TestCompensateCommandErrors(t *testing.T) {
	dir := writeRemedyFiles(t)
	p := func(n string) string { return filepath.Join(dir, n) }
	tests := []struct {
		name    string
		args    []string
		usage   bool
		wantErr string
	}{
		{"no flags", nil, true, ""},
		{"bad date", []string{"--events", p("events.jsonl"), "--incidents", p("incidents.jsonl"), "--policy", "restore", "--out", "-", "--valuation-date", "14/04/2025"}, true, ""},
		{"missing events", []string{"--events", p("none.jsonl"), "--incidents", p("incidents.jsonl"), "--policy", "restore", "--out", "-"}, false, "none.jsonl"},
		{"missing incidents", []string{"--events", p("events.jsonl"), "--incidents", p("none.jsonl"), "--policy", "restore", "--out", "-"}, false, "none.jsonl"},
		{"unknown policy", []string{"--events", p("events.jsonl"), "--incidents", p("incidents.jsonl"), "--policy", "generous", "--out", "-"}, false, `policy "generous": not a built-in policy (restore, half_purchased, half_total)`},
		{"missing policy file", []string{"--events", p("events.jsonl"), "--incidents", p("incidents.jsonl"), "--policy", p("nope.yaml"), "--out", "-"}, false, "nope.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCmd(t, runCompensate, tc.args...)
			if tc.usage {
				if !errors.Is(err, ErrUsage) {
					t.Errorf("got %v, want a usage error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
	for _, cmd := range []func(context.Context, []string, IO) error{runCompensate, runTally} {
		out, _, err := runCmd(t, cmd, "--help")
		if err != nil || !strings.Contains(out, "Usage: brokerguard") {
			t.Errorf("--help: got %v %q", err, out)
		}
	}
}

func TestTallyCommand(t *testing.T) {
	dir := writeRemedyFiles(t)
	p := func(n string) string { return filepath.Join(dir, n) }
	out, errOut, err := runCmd(t, runTally, "--events", p("events.jsonl"), "--incidents", p("incidents.jsonl"))
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	want := "month,unauthorized_accesses,unauthorized_trades,sold_yen,bought_yen,accounts_affected\n2025-04,1,2,1300000,494000,1\n"
	if out != want {
		t.Errorf("CSV: got\n%s\nwant\n%s", out, want)
	}
	if !strings.Contains(errOut, "1 incident counted; 3 left out") {
		t.Errorf("stderr: %s", errOut)
	}
	out, _, err = runCmd(t, runTally, "--events", p("events.jsonl"), "--incidents", p("incidents.jsonl"), "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 || rows[0]["sold_yen"] != "1300000" || rows[0]["unauthorized_accesses"] != 1.0 ||
		rows[0]["counting"] != report.TallyCounting {
		t.Errorf("JSON: got %v %s", err, out)
	}
	// --help describes every column, with the rule that finds the accesses.
	out, _, err = runCmd(t, runTally, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range report.TallyColumns {
		if !strings.Contains(out, "  "+c.Name+"\n") || !strings.Contains(out, c.Description) {
			t.Errorf("--help lacks the column %s: %s", c.Name, out)
		}
	}
	if _, _, err := runCmd(t, runTally, "--events", p("events.jsonl"), "--incidents", p("incidents.jsonl"), "--format", "xml"); !errors.Is(err, ErrUsage) {
		t.Errorf("--format xml: got %v, want a usage error", err)
	}
}

func TestCompensateExports(t *testing.T) {
	dir := writeRemedyFiles(t)
	p := func(n string) string { return filepath.Join(dir, n) }
	_, errOut, err := runCmd(t, runCompensate, "--events", p("events.jsonl"), "--incidents", p("incidents.jsonl"),
		"--policy", p("policy.yaml"), "--csv", p("decisions.csv"), "--evidence", p("evidence"), "--heading", "Example <Securities>")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	b, err := os.ReadFile(p("decisions.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// One row per incident, in the order of the incidents file, the amounts of TestCompensateCommand.
	want := "incident,line,account,valuation_date,valuation_basis,policy,base,restore_loss,restore,half_purchased,half_total,policy_amount,factors,recommended,status,error\n" +
		"case-1,1,A1,2025-04-14,fraud_report,firm,half_total,115610,115610,58410,57805,57805,reuse_admitted -20 points = -11561,46244,pending approval,\n" +
		`,2,A1,,,,,,,,,,,,not computed,"incidents line 2: order ""o3"": belongs to account ""B2"", not ""A1"""` + "\n" +
		`,3,,,,,,,,,,,,,not computed,"incidents line 3: field ""orders"": want a list of strings, got string"` + "\n" +
		`,4,Z9,,,,,,,,,,,,not computed,"incidents line 4: account ""Z9"": no events of this account in the event log"` + "\n"
	if string(b) != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", b, want)
	}
	files, _ := filepath.Glob(p("evidence/*.html"))
	if len(files) != 1 || filepath.Base(files[0]) != "incident-0001-case-1.html" {
		t.Fatalf("evidence files: got %v, want one for the incident computed", files)
	}
	html, _ := os.ReadFile(files[0])
	for _, w := range []string{"<h1>Example &lt;Securities&gt;</h1>", "account <strong>A1</strong>", `<p class="recommended">46,244 yen</p>`,
		"Pending supervisor approval", "2025-04-10 09:02:01.000</td><td>execution</td>"} {
		if !strings.Contains(string(html), w) {
			t.Errorf("evidence lacks %q", w)
		}
	}
	if !strings.Contains(errOut, "1 evidence file in") {
		t.Errorf("stderr: %s", errOut)
	}
	// Without --out, --csv or --evidence there is nothing to write.
	if _, _, err := runCmd(t, runCompensate, "--events", p("events.jsonl"), "--incidents", p("incidents.jsonl"), "--policy", "restore"); !errors.Is(err, ErrUsage) {
		t.Errorf("no output: got %v, want a usage error", err)
	}
}

func TestEvidenceFileName(t *testing.T) {
	for _, tc := range []struct {
		res  compensation.Result
		want string
	}{
		{compensation.Result{Line: 7, ID: "case-12"}, "incident-0007-case-12.html"},
		{compensation.Result{Line: 8, Account: "A1"}, "incident-0008-A1.html"},
		{compensation.Result{Line: 9, ID: "../../etc/passwd"}, "incident-0009-etc_passwd.html"},
		{compensation.Result{Line: 10, ID: "<>"}, "incident-0010.html"},
	} {
		if got := evidenceFileName(&tc.res); got != tc.want {
			t.Errorf("%+v: got %s, want %s", tc.res, got, tc.want)
		}
	}
}

// TestTallyVintages files the tally, confirms another incident, and sees the month revised.
func TestTallyVintages(t *testing.T) {
	dir := writeRemedyFiles(t)
	p := func(n string) string { return filepath.Join(dir, n) }
	os.WriteFile(p("first.jsonl"), []byte(`{"account":"A1","orders":["o1","o2"],"id":"case-1"}`+"\n"), 0o600)
	os.WriteFile(p("later.jsonl"), []byte(`{"account":"A1","orders":["o1","o2"],"id":"case-1"}`+"\n"+`{"account":"B2","orders":["o3"],"id":"case-2"}`+"\n"), 0o600)
	vint := p("filed")

	out, errOut, err := runCmd(t, runTally, "--events", p("events.jsonl"), "--incidents", p("first.jsonl"), "--vintages", vint, "--file-as", "2025-04")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	asFiled := "month,unauthorized_accesses,unauthorized_trades,sold_yen,bought_yen,accounts_affected\n2025-04,1,2,1300000,494000,1\n"
	if out != asFiled || !strings.Contains(errOut, "filed as 2025-04 in "+filepath.Join(vint, "2025-04.json")) {
		t.Errorf("filing: got %q, stderr %s", out, errOut)
	}
	saved, _ := os.ReadFile(filepath.Join(vint, "2025-04.json"))

	// A filing is never overwritten.
	_, _, err = runCmd(t, runTally, "--events", p("events.jsonl"), "--incidents", p("later.jsonl"), "--vintages", vint, "--file-as", "2025-04")
	if !errors.Is(err, report.ErrVintageExists) {
		t.Errorf("filing again: got %v, want ErrVintageExists", err)
	}
	if again, _ := os.ReadFile(filepath.Join(vint, "2025-04.json")); !bytes.Equal(again, saved) {
		t.Error("the filing was changed")
	}
	// Nor filed with incidents left out.
	_, _, err = runCmd(t, runTally, "--events", p("events.jsonl"), "--incidents", p("incidents.jsonl"), "--vintages", vint, "--file-as", "2025-04b")
	if err == nil || !strings.Contains(err.Error(), "nothing filed") {
		t.Errorf("filing with errors: got %v", err)
	}
	if _, err := os.Stat(filepath.Join(vint, "2025-04b.json")); err == nil {
		t.Error("a filing with errors was saved")
	}

	// B2's session is confirmed as an attacker's too: April is revised by one access and one account.
	out, errOut, err = runCmd(t, runTally, "--events", p("events.jsonl"), "--incidents", p("later.jsonl"), "--vintages", vint)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] != strings.Join(report.RevisionHeader, ",") ||
		!strings.HasPrefix(lines[1], "2025-04,2,2,1300000,494000,2,2025-04,") || !strings.HasSuffix(lines[1], ",1,2,1300000,494000,1,1,0,0,0,1,true,false") {
		t.Errorf("revision CSV:\n%s", out)
	}
	if !strings.Contains(errOut, "1 filing filed, 1 month revised since") {
		t.Errorf("stderr: %s", errOut)
	}
	out, _, err = runCmd(t, runTally, "--events", p("events.jsonl"), "--incidents", p("later.jsonl"), "--vintages", vint, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var revs []report.Revision
	if err := json.Unmarshal([]byte(out), &revs); err != nil || len(revs) != 1 {
		t.Fatalf("revision JSON: %v %s", err, out)
	}
	if r := revs[0]; r.FiledIn != "2025-04" || r.Filed == nil || r.Filed.Accesses != 1 || r.Current.Accesses != 2 || r.Change.Accounts != 1 || !r.Revised {
		t.Errorf("revision: %+v", r)
	}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"file-as without vintages", []string{"--file-as", "2025-05"}},
		{"bad filing name", []string{"--vintages", vint, "--file-as", "../up"}},
	} {
		args := append([]string{"--events", p("events.jsonl"), "--incidents", p("first.jsonl")}, tc.args...)
		if _, _, err := runCmd(t, runTally, args...); !errors.Is(err, ErrUsage) {
			t.Errorf("%s: got %v, want a usage error", tc.name, err)
		}
	}
	if _, _, err := runCmd(t, runTally, "--events", p("events.jsonl"), "--incidents", p("first.jsonl"), "--vintages", p("nowhere")); err == nil ||
		!strings.Contains(err.Error(), "nowhere") {
		t.Errorf("missing vintages directory: got %v", err)
	}
}
