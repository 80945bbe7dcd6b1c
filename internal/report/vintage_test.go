package report

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/money"
	"github.com/brokerguard/brokerguard/internal/reconstruct"
)

func TestRevise(t *testing.T) {
	at := func(s string) time.Time {
		return time.Date(2025, 5, 1, 0, 0, 0, 0, reconstruct.JST).Add(mustDuration(s))
	}
	filed := []Vintage{
		// Filed out of order on purpose: Revise goes by FiledAt.
		{Filing: "2025-05", FiledAt: at("720h"), Rows: []TallyRow{
			{Month: "2025-04", Accesses: 3, Trades: 5, SoldYen: money.MustYen("1000.5"), BoughtYen: money.MustYen("900"), Accounts: 2, Counting: TallyCounting},
			{Month: "2025-05", Accesses: 1, Trades: 1, SoldYen: money.MustYen("10"), Accounts: 1, Counting: TallyCounting},
		}},
		// Filed before the rows said how they were counted.
		{Filing: "2025-04", FiledAt: at("0h"), Rows: []TallyRow{
			{Month: "2025-03", Accesses: 1, Accounts: 1},
			{Month: "2025-04", Accesses: 2, Trades: 4, SoldYen: money.MustYen("800"), BoughtYen: money.MustYen("900"), Accounts: 1},
		}},
	}
	current := []TallyRow{
		{Month: "2025-04", Accesses: 4, Trades: 6, SoldYen: money.MustYen("1200.5"), BoughtYen: money.MustYen("900"), Accounts: 3, Counting: TallyCounting},
		{Month: "2025-05", Accesses: 1, Trades: 1, SoldYen: money.MustYen("10"), Accounts: 1, Counting: TallyCounting},
		{Month: "2025-06", Accesses: 2, Trades: 0, Accounts: 2, Counting: TallyCounting},
	}
	revs := Revise(current, filed)
	var got []string
	for _, r := range revs {
		got = append(got, r.Month+" "+r.FiledIn+" "+strings.Join([]string{itoa(r.Change.Accesses), itoa(r.Change.Trades),
			r.Change.SoldYen.String(), r.Change.BoughtYen.String(), itoa(r.Change.Accounts)}, ",")+" "+map[bool]string{true: "revised", false: "-"}[r.Revised]+
			map[bool]string{true: " recounted", false: ""}[r.Recounted])
	}
	want := []string{
		"2025-03 2025-04 -1,0,0,0,-1 revised recounted", // filed once under the old counting, no incident now (withdrawn)
		"2025-04 2025-05 1,1,200,0,1 revised",           // against the later filing, not the first
		"2025-05 2025-05 0,0,0,0,0 -",
		"2025-06  2,0,0,0,2 -", // never filed
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("revisions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if revs[0].Current.Month != "2025-03" || revs[0].Current.Accesses != 0 || revs[3].Filed != nil {
		t.Errorf("got %+v", revs)
	}
	var buf bytes.Buffer
	if err := WriteRevisionsCSV(&buf, revs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 5 || lines[0] != strings.Join(RevisionHeader, ",") ||
		lines[1] != "2025-03,0,0,0,0,0,2025-04,2025-05-01T00:00:00+09:00,1,0,0,0,1,-1,0,0,0,-1,true,true" ||
		lines[2] != "2025-04,4,6,1200.5,900,3,2025-05,2025-05-31T00:00:00+09:00,3,5,1000.5,900,2,1,1,200,0,1,true,false" ||
		lines[4] != "2025-06,2,0,0,0,2,,,,,,,,2,0,0,0,2,false,false" {
		t.Errorf("CSV:\n%s", buf.String())
	}
}

func mustDuration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

func itoa(n int64) string { return money.YenOf(n).String() }

func TestDirVintages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "filed")
	vs := DirVintages{Dir: dir}
	v := &Vintage{Filing: "2025-05", FiledAt: time.Date(2025, 6, 10, 9, 0, 0, 0, reconstruct.JST), Incidents: 2,
		Rows: []TallyRow{{Month: "2025-04", Accesses: 2, Trades: 3, SoldYen: money.MustYen("1234.5"), BoughtYen: money.MustYen("99"), Accounts: 2}}}
	if err := vs.Save(v); err != nil {
		t.Fatal(err)
	}
	// Never overwritten, even with other figures.
	v2 := *v
	v2.Rows = nil
	if err := vs.Save(&v2); !errors.Is(err, ErrVintageExists) || !strings.Contains(err.Error(), "2025-05.json") {
		t.Errorf("second save: got %v, want ErrVintageExists naming the file", err)
	}
	got, err := vs.List()
	if err != nil || len(got) != 1 || got[0].Filing != "2025-05" || !got[0].Rows[0].SoldYen.Equal(money.MustYen("1234.5")) || got[0].Incidents != 2 {
		t.Fatalf("list: %v %+v", err, got)
	}
	for _, bad := range []string{"", "../x", ".hidden", "a b", strings.Repeat("x", 65)} {
		if err := vs.Save(&Vintage{Filing: bad}); err == nil {
			t.Errorf("filing name %q accepted", bad)
		}
	}
	os.WriteFile(filepath.Join(dir, "notes.json"), []byte(`{"hello":1}`), 0o600)
	if _, err := vs.List(); err == nil || !strings.Contains(err.Error(), "notes.json") {
		t.Errorf("a stray file: got %v, want an error naming it", err)
	}
	if _, err := (DirVintages{Dir: filepath.Join(dir, "none")}).List(); err == nil {
		t.Error("a missing directory: got no error")
	}
}
