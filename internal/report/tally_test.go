package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brokerguard/brokerguard/internal/money"
	"github.com/brokerguard/brokerguard/internal/reconstruct"
)

// Addresses and devices of the timelines below.
const (
	homeIP     = "198.51.100.1" // the customer's
	homeDevice = "d-home"
	attackIP   = "203.0.113.9" // the attacker's
	attackIP2  = "192.0.2.77"  // another of the attacker's, seen on no order
	cookieIP   = "192.0.2.50"  // where a stolen session is used from
	attackDev  = "d-attacker"
)

// netFields writes the ip and (when given) device members of a request.
func netFields(ip, device string) string {
	s := fmt.Sprintf(`"ip":%q`, ip)
	if device != "" {
		s += fmt.Sprintf(`,"device":%q`, device)
	}
	return s
}

func loginFrom(tl *timeline, when, account, session, ip, device string) {
	tl.Add("login", when, fmt.Sprintf(`"account":%q,"result":"success","method":"password","session":%q,%s`, account, session, netFields(ip, device)))
}

func failedLogin(tl *timeline, when, account, ip string) {
	tl.Add("login", when, fmt.Sprintf(`"account":%q,"result":"failure","failure":"bad_password","method":"password",%s`, account, netFields(ip, "")))
}

func changeFrom(tl *timeline, when, account, session, ip, device string) {
	tl.Add("profile_change", when, fmt.Sprintf(`"account":%q,"session":%q,%s,"field":"email"`, account, session, netFields(ip, device)))
}

func orderFrom(tl *timeline, when, account, id, session, ip, device, symbol, side string, qty int64) {
	tl.Add("order", when, fmt.Sprintf(`"account":%q,"order_id":%q,"session":%q,%s,"symbol":%q,"side":%q,"quantity":%d,"account_type":"cash"`,
		account, id, session, netFields(ip, device), symbol, side, qty))
}

// accessList writes accesses as "session=kind@event/match", by time.
func accessList(as []reconstruct.Access) string {
	var out []string
	for _, a := range as {
		out = append(out, a.Session+"="+a.Kind+"@"+a.EventID+"/"+a.Match)
	}
	return strings.Join(out, " ")
}

func TestAttackerAccesses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(tl *timeline)
		inc   reconstruct.Claim
		want  string
	}{{
		// The attacker logs in twice from its address (the first time only to change the email), and
		// uses a session the customer opened from another address: three accesses. The customer's own
		// logins, the failed login and the stolen session's login are not the attacker's.
		name: "two attacker logins and a stolen session",
		build: func(tl *timeline) {
			tl.Snapshot("04-10 06:00", "A1", "7203:500")                                              // e1
			loginFrom(tl, "04-10 08:00", "A1", "c1", homeIP, homeDevice)                              // e2 customer
			failedLogin(tl, "04-10 08:59", "A1", attackIP)                                            // e3
			loginFrom(tl, "04-10 09:00", "A1", "a1", attackIP, attackDev)                             // e4 attacker
			changeFrom(tl, "04-10 09:01", "A1", "a1", attackIP, attackDev)                            // e5
			loginFrom(tl, "04-10 10:00", "A1", "a2", attackIP, attackDev)                             // e6 attacker
			orderFrom(tl, "04-10 10:01", "A1", "o1", "a2", attackIP, attackDev, "7203", "sell", 500)  // e7
			loginFrom(tl, "04-10 11:00", "A1", "v1", homeIP, homeDevice)                              // e8 customer
			orderFrom(tl, "04-10 11:05", "A1", "c-o", "v1", homeIP, homeDevice, "9984", "buy", 100)   // e9 customer's own
			changeFrom(tl, "04-10 11:20", "A1", "v1", cookieIP, homeDevice)                           // e10 stolen cookie
			orderFrom(tl, "04-10 11:30", "A1", "o2", "v1", cookieIP, homeDevice, "7992", "buy", 4000) // e11
			loginFrom(tl, "04-11 08:00", "A1", "c2", homeIP, homeDevice)                              // e12 customer
		},
		inc:  reconstruct.Claim{Account: "A1", Orders: []string{"o1", "o2"}},
		want: "a1=login@e4/address a2=login@e6/order_session v1=first_use@e10/order_session",
	}, {
		// A login from a new address but the device of the attacker's login; and a session whose
		// login carries no device, whose request does, from the login's address: both the attacker's.
		name: "the attacker's device",
		build: func(tl *timeline) {
			loginFrom(tl, "04-10 10:00", "A1", "a2", attackIP, attackDev)                            // e1
			orderFrom(tl, "04-10 10:01", "A1", "o1", "a2", attackIP, attackDev, "7203", "sell", 500) // e2
			loginFrom(tl, "04-10 22:00", "A1", "a3", attackIP2, attackDev)                           // e3
			loginFrom(tl, "04-09 21:00", "A1", "a0", "192.0.2.99", "")                               // e4
			changeFrom(tl, "04-09 21:02", "A1", "a0", "192.0.2.99", attackDev)                       // e5
			loginFrom(tl, "04-10 12:00", "A1", "c1", homeIP, homeDevice)                             // e6 customer
			changeFrom(tl, "04-10 12:01", "A1", "c1", homeIP, homeDevice)                            // e7
		},
		inc:  reconstruct.Claim{Account: "A1", Orders: []string{"o1"}},
		want: "a0=login@e4/device a2=login@e1/order_session a3=login@e3/device",
	}, {
		// The incident window: a login from the attacker's address more than 72 hours before the
		// first unauthorized event is left out; one within it counts.
		name: "the incident window",
		build: func(tl *timeline) {
			loginFrom(tl, "04-06 09:59", "A1", "early", attackIP, "")                         // e1
			loginFrom(tl, "04-07 10:01", "A1", "recon", attackIP, "")                         // e2
			loginFrom(tl, "04-10 10:00", "A1", "a2", attackIP, "")                            // e3
			orderFrom(tl, "04-10 10:01", "A1", "o1", "a2", attackIP, "", "7203", "sell", 500) // e4
		},
		inc:  reconstruct.Claim{Account: "A1", Orders: []string{"o1"}},
		want: "recon=login@e2/address a2=login@e3/order_session",
	}, {
		// A session without its login in the log counts from its first use by the attacker.
		name: "no login in the log",
		build: func(tl *timeline) {
			changeFrom(tl, "04-10 09:00", "A1", "old", homeIP, homeDevice)                             // e1 the customer, still
			changeFrom(tl, "04-10 09:30", "A1", "old", attackIP, homeDevice)                           // e2
			orderFrom(tl, "04-10 09:31", "A1", "o1", "old", attackIP, homeDevice, "7203", "sell", 500) // e3
		},
		inc:  reconstruct.Claim{Account: "A1", Orders: []string{"o1"}},
		want: "old=first_use@e2/order_session",
	}, {
		// A session the incident names, without orders: its login when nothing tells otherwise, its
		// first use from the orders' address when it was logged into elsewhere.
		name: "named sessions",
		build: func(tl *timeline) {
			loginFrom(tl, "04-10 09:00", "A1", "n1", "192.0.2.99", "")                        // e1
			changeFrom(tl, "04-10 09:01", "A1", "n1", "192.0.2.99", "")                       // e2
			loginFrom(tl, "04-10 09:10", "A1", "n2", homeIP, homeDevice)                      // e3 customer
			changeFrom(tl, "04-10 09:20", "A1", "n2", attackIP, homeDevice)                   // e4 stolen
			loginFrom(tl, "04-10 10:00", "A1", "a2", attackIP, "")                            // e5
			orderFrom(tl, "04-10 10:01", "A1", "o1", "a2", attackIP, "", "7203", "sell", 500) // e6
		},
		inc:  reconstruct.Claim{Account: "A1", Orders: []string{"o1"}, Sessions: []string{"n1", "n2"}},
		want: "n1=login@e1/named_session n2=first_use@e4/named_session a2=login@e5/order_session",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var tl timeline
			tc.build(&tl)
			rec := reconstructOf(t, collect(t, &tl, tc.inc), tc.inc)
			if got := accessList(rec.Accesses); got != tc.want {
				t.Errorf("accesses: got %v, want %v", got, tc.want)
			}
			rows := Tally([]*reconstruct.Reconstruction{rec})
			var n int64
			for _, r := range rows {
				n += r.Accesses
			}
			if want := int64(strings.Count(tc.want, "=")); n != want {
				t.Errorf("tally: got %d accesses, want %d", n, want)
			}
		})
	}
}

// TestTallyCountsEachExecution: an order filled in parts is one trade per execution, each in its
// month; yen are summed exactly and rounded down to whole yen once.
func TestTallyCountsEachExecution(t *testing.T) {
	var tl timeline
	loginFrom(&tl, "04-30 10:00", "A1", "a1", attackIP, "")                            // e1
	orderFrom(&tl, "04-30 10:01", "A1", "o1", "a1", attackIP, "", "7203", "sell", 103) // e2
	tl.Fill("04-30 10:02", "A1", "o1", "7203", "sell", 1, "100.25", "0")               // e3
	tl.Fill("04-30 10:03", "A1", "o1", "7203", "sell", 1, "100.75", "0")               // e4
	tl.Fill("04-30 10:04", "A1", "o1", "7203", "sell", 1, "0.6", "0")                  // e5
	orderFrom(&tl, "04-30 14:00", "A1", "o2", "a1", attackIP, "", "7992", "buy", 4)    // e6
	tl.Fill("04-30 14:01", "A1", "o2", "7992", "buy", 3, "100.5", "0")                 // e7
	tl.Fill("05-01 09:00", "A1", "o2", "7992", "buy", 1, "200.5", "0")                 // e8: the next month
	tl.Fill("05-01 09:01", "A1", "o1", "7203", "sell", 100, "52707.9216587", "0")      // e9
	orderFrom(&tl, "05-01 09:30", "A1", "o3", "a1", attackIP, "", "7992", "buy", 100)  // e10: never executed
	inc := reconstruct.Claim{Account: "A1", Orders: []string{"o1", "o2", "o3"}}
	rec := reconstructOf(t, collect(t, &tl, inc), inc)
	got := Tally([]*reconstruct.Reconstruction{rec, rec}) // the same incident twice counts once
	want := []struct {
		month, sold, soldExact, bought, boughtExact string
		accesses, trades                            int64
	}{
		// Sold 100.25 + 100.75 + 0.6 = 201.6 → 201 (each execution rounded down would give 200).
		// Bought 3 × 100.5 = 301.5 → 301.
		{"2025-04", "201", "201.6", "301", "301.5", 1, 4},
		// Bought 200.5 → 200; sold 100 × 52707.9216587 = 5270792.16587 → 5270792.
		{"2025-05", "5270792", "5270792.16587", "200", "200.5", 0, 2},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Month != w.month || g.Accesses != w.accesses || g.Trades != w.trades || g.SoldYen.String() != w.sold ||
			g.BoughtYen.String() != w.bought || g.SoldYenExact.String() != w.soldExact || g.BoughtYenExact.String() != w.boughtExact ||
			g.Accounts != 1 || g.Counting != TallyCounting {
			t.Errorf("row %d: got %+v, want %+v", i, g, w)
		}
	}
	var buf bytes.Buffer
	if err := WriteTallyCSV(&buf, got); err != nil {
		t.Fatal(err)
	}
	wantCSV := "month,unauthorized_accesses,unauthorized_trades,sold_yen,bought_yen,accounts_affected\n" +
		"2025-04,1,4,201,301,1\n2025-05,0,2,5270792,200,1\n"
	if buf.String() != wantCSV {
		t.Errorf("CSV: got\n%s\nwant\n%s", buf.String(), wantCSV)
	}
	b, err := json.Marshal(got[1])
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"month":"2025-05","unauthorized_accesses":0,"unauthorized_trades":2,"sold_yen":"5270792","bought_yen":"200",` +
		`"accounts_affected":1,"sold_yen_exact":"5270792.16587","bought_yen_exact":"200.5","counting":"per_access"}`
	if string(b) != wantJSON {
		t.Errorf("JSON: got %s, want %s", b, wantJSON)
	}
	if len(TallyColumns) != len(TallyHeader) || TallyHeader[1] != "unauthorized_accesses" {
		t.Errorf("columns: got %v", TallyHeader)
	}
}

// TestVintageOfEarlierFormat loads a tally filed before the rows said how they were counted (the
// format of testdata/vintages-v1): its figures stand exactly as filed, and the months are marked
// recounted beside the current tally.
func TestVintageOfEarlierFormat(t *testing.T) {
	dir := t.TempDir()
	old, err := os.ReadFile(filepath.Join("testdata", "vintages-v1", "2025-04.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "2025-04.json"), old, 0o600); err != nil {
		t.Fatal(err)
	}
	vs := DirVintages{Dir: dir}
	current := []TallyRow{{Month: "2025-04", Accesses: 3, Trades: 5, SoldYen: money.MustYen("52707921"), BoughtYen: money.MustYen("31010100"),
		Accounts: 2, Counting: TallyCounting}}
	sold, bought := money.MustYen("52707921.6587"), money.MustYen("31010100")
	current[0].SoldYenExact, current[0].BoughtYenExact = &sold, &bought
	if err := vs.Save(&Vintage{Filing: "2025-05", FiledAt: mustTime(t, "2025-06-10T09:00:00+09:00"), Incidents: 3, Rows: current}); err != nil {
		t.Fatal(err)
	}
	filed, err := vs.List()
	if err != nil {
		t.Fatalf("list: got %v, want the filing of the earlier format and the new one", err)
	}
	if len(filed) != 2 || filed[0].Filing != "2025-04" || filed[1].Filing != "2025-05" {
		t.Fatalf("got %+v", filed)
	}
	r := filed[0].Rows[1]
	if r.Month != "2025-04" || r.Accesses != 2 || r.Trades != 3 || r.SoldYen.String() != "52707921.6587" || r.Counting != "" || r.SoldYenExact != nil {
		t.Errorf("the earlier filing: got %+v, want its figures as filed", r)
	}
	if n := filed[1].Rows[0]; n.Counting != TallyCounting || n.SoldYenExact == nil || n.SoldYenExact.String() != "52707921.6587" || n.SoldYen.String() != "52707921" {
		t.Errorf("the new filing: got %+v", n)
	}

	// Against the earlier filing alone: March withdrawn and April changed, both under another counting.
	revs := Revise(current, filed[:1])
	var got []string
	for _, r := range revs {
		got = append(got, fmt.Sprintf("%s %s %d,%d,%s revised=%v recounted=%v", r.Month, r.FiledIn, r.Change.Accesses, r.Change.Trades,
			r.Change.SoldYen, r.Revised, r.Recounted))
	}
	want := "2025-03 2025-04 -1,0,0 revised=true recounted=true\n2025-04 2025-04 1,2,-0.6587 revised=true recounted=true"
	if strings.Join(got, "\n") != want {
		t.Errorf("revisions: got\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
	// Against both: April's last filing counted the same way.
	revs = Revise(current, filed)
	if a := revs[1]; a.FiledIn != "2025-05" || a.Revised || a.Recounted {
		t.Errorf("April against the later filing: got %+v, want unchanged and not recounted", a)
	}
}
