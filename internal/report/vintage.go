package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/brokerguard/brokerguard/internal/fault"
	"github.com/brokerguard/brokerguard/internal/money"
	"github.com/brokerguard/brokerguard/internal/reconstruct"
)

// Vintage is the regulator's tally as it was filed: the rows exactly as sent, under the filing's name,
// and when. The tally of a month is revised as incidents are confirmed later; a vintage is never
// changed, so that what was reported stays beside what is known now (Revise).
type Vintage struct {
	Filing    string     `json:"filing"`   // the filing's name, e.g. "2025-05" (ValidFiling)
	FiledAt   time.Time  `json:"filed_at"` // when it was filed
	Incidents int        `json:"incidents"`
	Rows      []TallyRow `json:"rows"`
}

// Vintages keeps the filed tallies. Save refuses a filing name that is taken (ErrVintageExists): a
// filing is never overwritten. List returns every vintage, oldest filing first. DirVintages keeps
// them as files; a server can keep them in its store.
type Vintages interface {
	Save(v *Vintage) error
	List() ([]Vintage, error)
}

// ErrVintageExists is returned by Save for a filing name that is already stored.
var ErrVintageExists = fault.Kind(fault.ErrExists, "a filing of that name is already stored; filings are never overwritten")

var filingName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidFiling checks a filing's name: 1 to 64 letters, digits, '.', '_' or '-', not starting with
// a punctuation mark (it names a file).
func ValidFiling(name string) error {
	if !filingName.MatchString(name) {
		return fmt.Errorf("filing name %q: want 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. 2025-05)", name)
	}
	return nil
}

// DirVintages keeps one JSON file per filing in a directory, named after the filing (2025-05.json).
type DirVintages struct{ Dir string }

var _ Vintages = DirVintages{}

// Save writes the vintage to a new file, creating the directory if need be. An existing file of
// that name is left as it is and ErrVintageExists returned.
func (d DirVintages) Save(v *Vintage) error {
	if err := ValidFiling(v.Filing); err != nil {
		return err
	}
	if err := os.MkdirAll(d.Dir, 0o750); err != nil {
		return fmt.Errorf("vintages: %w", err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(d.Dir, v.Filing+".json")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("vintage %s: %w", path, ErrVintageExists)
	}
	if err != nil {
		return fmt.Errorf("vintages: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // a half-written filing must not stand
		return fmt.Errorf("vintage %s: %w", path, err)
	}
	return nil
}

// List reads every *.json file of the directory. A file that is not a vintage is an error naming it.
func (d DirVintages) List() ([]Vintage, error) {
	if _, err := os.Stat(d.Dir); err != nil {
		return nil, fmt.Errorf("vintages: %w", err)
	}
	paths, err := filepath.Glob(filepath.Join(d.Dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Vintage
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("vintage %s: %w", p, err)
		}
		var v Vintage
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("vintage %s: not a filed tally: %v", p, err)
		}
		if v.Filing+".json" != filepath.Base(p) {
			return nil, fmt.Errorf("vintage %s: holds filing %q, not %q", p, v.Filing, strings.TrimSuffix(filepath.Base(p), ".json"))
		}
		out = append(out, v)
	}
	SortVintages(out)
	return out, nil
}

// SortVintages orders vintages by the time they were filed, then by name.
func SortVintages(vs []Vintage) {
	sort.SliceStable(vs, func(i, j int) bool {
		if !vs[i].FiledAt.Equal(vs[j].FiledAt) {
			return vs[i].FiledAt.Before(vs[j].FiledAt)
		}
		return vs[i].Filing < vs[j].Filing
	})
}

// Revision is one month of the tally as known now beside its figures as last filed.
type Revision struct {
	Month   string     `json:"month"`
	Current TallyRow   `json:"current"`
	Filed   *TallyRow  `json:"filed"`    // as last filed; nil when no filing reported the month
	FiledIn string     `json:"filed_in"` // the filing that last reported it ("" when none)
	FiledAt *time.Time `json:"filed_at"` // and when
	Change  TallyDelta `json:"change"`   // Current − Filed (Current when never filed)
	Revised bool       `json:"revised"`  // the month was filed and its figures changed since
	// Recounted: the month was filed under another way of counting (TallyRow.Counting), so part of
	// the change, or all of it, is the counting's (e.g. a filing of before TallyCounting counted one
	// access per attacker session and one trade per executed order, in exact yen).
	Recounted bool `json:"recounted"`
}

// TallyDelta is the difference of two tally rows, figure by figure.
type TallyDelta struct {
	Accesses  int64     `json:"unauthorized_accesses"`
	Trades    int64     `json:"unauthorized_trades"`
	SoldYen   money.Yen `json:"sold_yen"`
	BoughtYen money.Yen `json:"bought_yen"`
	Accounts  int64     `json:"accounts_affected"`
}

func (d TallyDelta) zero() bool {
	return d.Accesses == 0 && d.Trades == 0 && d.SoldYen.Sign() == 0 && d.BoughtYen.Sign() == 0 && d.Accounts == 0
}

// Revise sets the current rows beside the rows as last filed: for every month that is in the
// current tally or in a filing, the latest filing (by FiledAt, then name) that reported it and the
// difference. A month filed once and now without any incident has a current row of zeros.
func Revise(current []TallyRow, filed []Vintage) []Revision {
	vs := append([]Vintage(nil), filed...)
	SortVintages(vs)
	type last struct {
		row TallyRow
		v   *Vintage
	}
	lastFiled := map[string]last{}
	for i := range vs {
		for _, r := range vs[i].Rows {
			lastFiled[r.Month] = last{r, &vs[i]}
		}
	}
	months := map[string]TallyRow{}
	for _, r := range current {
		months[r.Month] = r
	}
	for m := range lastFiled {
		if _, ok := months[m]; !ok {
			months[m] = TallyRow{Month: m, Counting: TallyCounting}
		}
	}
	out := make([]Revision, 0, len(months))
	for m, cur := range months {
		rev := Revision{Month: m, Current: cur}
		var f TallyRow
		if l, ok := lastFiled[m]; ok {
			f = l.row
			t := l.v.FiledAt
			rev.Filed, rev.FiledIn, rev.FiledAt = &f, l.v.Filing, &t
		}
		rev.Change = TallyDelta{Accesses: cur.Accesses - f.Accesses, Trades: cur.Trades - f.Trades,
			SoldYen: cur.SoldYen.Sub(f.SoldYen), BoughtYen: cur.BoughtYen.Sub(f.BoughtYen), Accounts: cur.Accounts - f.Accounts}
		rev.Revised = rev.Filed != nil && !rev.Change.zero()
		rev.Recounted = rev.Filed != nil && rev.Filed.Counting != cur.Counting
		out = append(out, rev)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Month < out[j].Month })
	return out
}

// RevisionHeader is the CSV header row of the revised tally: the current figures, the filing that
// last reported the month and its figures, and the change.
var RevisionHeader = []string{"month",
	"unauthorized_accesses", "unauthorized_trades", "sold_yen", "bought_yen", "accounts_affected",
	"filed_in", "filed_at",
	"filed_unauthorized_accesses", "filed_unauthorized_trades", "filed_sold_yen", "filed_bought_yen", "filed_accounts_affected",
	"change_unauthorized_accesses", "change_unauthorized_trades", "change_sold_yen", "change_bought_yen", "change_accounts_affected",
	"revised", "recounted"}

// WriteRevisionsCSV writes the revised tally as CSV with a header row; a month never filed has empty
// filed figures and its current figures as the change. The last column tells a month filed under
// another way of counting (Revision.Recounted).
func WriteRevisionsCSV(w io.Writer, revs []Revision) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(RevisionHeader); err != nil {
		return err
	}
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, r := range revs {
		c := r.Current
		rec := []string{r.Month, i(c.Accesses), i(c.Trades), c.SoldYen.String(), c.BoughtYen.String(), i(c.Accounts)}
		if f := r.Filed; f != nil {
			rec = append(rec, r.FiledIn, r.FiledAt.In(reconstruct.JST).Format(time.RFC3339),
				i(f.Accesses), i(f.Trades), f.SoldYen.String(), f.BoughtYen.String(), i(f.Accounts))
		} else {
			rec = append(rec, "", "", "", "", "", "", "")
		}
		d := r.Change
		rec = append(rec, i(d.Accesses), i(d.Trades), d.SoldYen.String(), d.BoughtYen.String(), i(d.Accounts), strconv.FormatBool(r.Revised),
			strconv.FormatBool(r.Recounted))
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
