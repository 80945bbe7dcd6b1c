package profile

import (
	"reflect"
	"testing"
)

func TestHistoryPlacesByTimeTiesInArrivalOrder(t *testing.T) {
	h := &History{}
	for _, at := range []int64{10, 20, 20, 30} {
		h.Entries = append(h.Entries, Entry{At: at, Data: at})
	}
	for _, tc := range []struct {
		at   int64
		want int
	}{{5, 0}, {10, 1}, {15, 1}, {20, 3}, {25, 3}, {30, 4}, {40, 4}} {
		if got := h.After(tc.at); got != tc.want {
			t.Errorf("After(%d) = %d, want %d", tc.at, got, tc.want)
		}
	}
	h.Insert(h.After(20), Entry{At: 20, Data: "late"})
	if h.Entries[3].Data != "late" || h.Newest() != 30 {
		t.Errorf("after insert: %v", h.Entries)
	}
	var folded []any
	h.Fold(2, func(base *Profile, e Entry) {
		base.Logins++
		folded = append(folded, e.Data)
	})
	if h.Base.Logins != 2 || !reflect.DeepEqual(folded, []any{int64(10), int64(20)}) || len(h.Entries) != 3 || h.Entries[0].At != 20 {
		t.Errorf("fold: base %d logins, folded %v, left %v", h.Base.Logins, folded, h.Entries)
	}
	if h.Floor != 20 || h.Placeable(19) || !h.Placeable(20) {
		t.Errorf("after folding up to 20: floor %d", h.Floor)
	}
}

func TestCloneIsDeep(t *testing.T) {
	p := &Profile{Holdings: []Position{{Symbol: "7203", Qty: 100}}, Fails: []uint32{1}, Sells: []Flow{{T: 1, Value: 2}},
		Sessions: []Session{{Key: 1}}, History: &History{}}
	p.Devices.Add(1, 1, MaxDevices)
	c := p.Clone()
	if c.History != nil {
		t.Error("a clone carries the history")
	}
	c.Holdings[0].Qty = 0
	c.Fails[0] = 9
	c.Sells[0].Value = 0
	c.Sessions[0].Key = 2
	c.Devices[0].N = 7
	if p.Holdings[0].Qty != 100 || p.Fails[0] != 1 || p.Sells[0].Value != 2 || p.Sessions[0].Key != 1 || p.Devices[0].N != 1 {
		t.Errorf("changing the clone changed the original: %+v", p)
	}
}

func TestDropHistory(t *testing.T) {
	a := NewAccounts()
	for i, newest := range []int64{100, 200, 300} {
		a.With(string(rune('A'+i)), func(p *Profile) { p.History = &History{Entries: []Entry{{At: newest}}} })
	}
	a.With("D", func(p *Profile) {})
	// An event at the cut itself is still accepted: a history whose newest event is there is kept.
	if dropped, kept := a.DropHistory(200); dropped != 1 || kept != 2 {
		t.Errorf("dropped %d, kept %d; want 1, 2", dropped, kept)
	}
	for acct, want := range map[string]bool{"A": false, "B": true, "C": true} {
		a.Peek(acct, func(p *Profile) {
			if (p.History != nil) != want {
				t.Errorf("%s: history kept %v, want %v", acct, p.History != nil, want)
			}
		})
	}
}
