// Package links keeps the links between accounts: which accounts used an address, a network prefix, a
// device id or a withdrawal destination recently, and which user-agent families each TLS fingerprint
// arrives with. It is cross-account state, partitioned by its own key (the address, the device…), and is
// reached from per-account decisions only through its narrow methods, so that a distributed deployment
// can put it behind messages without changing detection code.
package links

import (
	"sync"
)

// Kind is the kind of a shared resource.
type Kind uint8

// Kinds of shared resources.
const (
	KindIP Kind = iota
	KindPrefix
	KindDevice
	KindDestination
	KindTLS
	numKinds
)

var kindNames = [numKinds]string{"ip", "prefix", "device", "destination", "tls"}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

// maxAccountsPerKey bounds the accounts remembered per resource; beyond it the count saturates.
const maxAccountsPerKey = 32

type key struct {
	kind Kind
	h    uint64
}

type use struct {
	account uint64
	last    uint32
}

type entry struct {
	uses []use
	last uint32
}

const numShards = 64

type shard struct {
	mu      sync.Mutex
	m       map[key]*entry
	inserts int
	tls     map[uint64]*tlsEntry
	_       [24]byte
}

// Links is the cross-account link tracker, safe for concurrent use.
type Links struct {
	window uint32
	shards [numShards]shard
	waves  Waves
}

// LoginFailure counts a failed login towards the credential-stuffing watch; it returns the wave it
// starts, if any.
func (l *Links) LoginFailure(t uint32, ip, account string) (WaveStart, bool) {
	return l.waves.Failure(t, ip, account)
}

// StuffingWave reports whether a credential-stuffing wave is under way at t.
func (l *Links) StuffingWave(t uint32) (bool, int) { return l.waves.Wave(t) }

// New returns a tracker that counts accounts seen within window seconds.
func New(window uint32) *Links {
	l := &Links{window: window}
	for i := range l.shards {
		l.shards[i].m = make(map[key]*entry)
		l.shards[i].tls = make(map[uint64]*tlsEntry)
	}
	return l
}

func (l *Links) shard(h uint64) *shard { return &l.shards[(h>>7)%numShards] }

// Observe records that account used the resource (kind, h) at unix time t and returns how many other
// accounts used it within the window before.
func (l *Links) Observe(kind Kind, h, account uint64, t uint32) int {
	s := l.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key{kind, h}
	e := s.m[k]
	if e == nil {
		e = &entry{}
		s.m[k] = e
		s.inserts++
		if s.inserts >= 4096 {
			s.inserts = 0
			l.sweep(s, t)
		}
	}
	others := 0
	self := -1
	oldest := 0
	for i, u := range e.uses {
		if u.account == account {
			self = i
			continue
		}
		if u.last+l.window >= t {
			others++
		}
		if u.last < e.uses[oldest].last {
			oldest = i
		}
	}
	switch {
	case self >= 0:
		if t > e.uses[self].last {
			e.uses[self].last = t
		}
	case len(e.uses) < maxAccountsPerKey:
		e.uses = append(e.uses, use{account, t})
	default:
		e.uses[oldest] = use{account, t}
	}
	if t > e.last {
		e.last = t
	}
	return others
}

// sweep forgets resources unused for a whole window. Called with s.mu held.
func (l *Links) sweep(s *shard, t uint32) {
	for k, e := range s.m {
		if e.last+l.window < t {
			delete(s.m, k)
		}
	}
}

// TLSStats says which user-agent family a TLS fingerprint usually arrives with.
type TLSStats struct {
	Total         int     // observations of the fingerprint before this one
	Dominant      uint64  // the most frequent user-agent family
	DominantShare float64 // its share of Total
	ThisShare     float64 // the share of the family asked about
}

type tlsEntry struct {
	fam   [4]uint64
	n     [4]uint32
	total uint32
}

// ObserveTLS records that fingerprint tls arrived with user-agent family fam and returns what was known of
// the fingerprint before.
func (l *Links) ObserveTLS(tls, fam uint64) TLSStats {
	s := l.shard(tls)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.tls[tls]
	if e == nil {
		e = &tlsEntry{}
		s.tls[tls] = e
	}
	var st TLSStats
	st.Total = int(e.total)
	best := -1
	for i := range e.fam {
		if e.n[i] == 0 {
			continue
		}
		if best < 0 || e.n[i] > e.n[best] {
			best = i
		}
		if e.fam[i] == fam && e.total > 0 {
			st.ThisShare = float64(e.n[i]) / float64(e.total)
		}
	}
	if best >= 0 && e.total > 0 {
		st.Dominant = e.fam[best]
		st.DominantShare = float64(e.n[best]) / float64(e.total)
	}
	// Count the family, replacing the rarest when all four slots are taken.
	slot, rare := -1, 0
	for i := range e.fam {
		if e.n[i] > 0 && e.fam[i] == fam {
			slot = i
			break
		}
		if e.n[i] < e.n[rare] {
			rare = i
		}
	}
	if slot < 0 {
		slot = rare
		e.fam[slot], e.n[slot] = fam, 0
	}
	e.n[slot]++
	e.total++
	return st
}
