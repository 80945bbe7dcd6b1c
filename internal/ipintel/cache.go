package ipintel

import (
	"net/netip"
	"sync"
	"sync/atomic"
)

// recordCache keeps what was decoded from each record of one database, keyed by the record's offset in
// the file, so that a record is decoded once. A database has a fixed set of records, so the cache is
// bounded by the file (84,159 records in the shipped ASN file, 250 in the country file), not by the
// traffic. Values are kept behind pointers that stay valid, so slash24Cache can hold them.
type recordCache[V any] struct {
	mu sync.RWMutex
	m  map[uintptr]*V
}

func (c *recordCache[V]) get(offset uintptr) (*V, bool) {
	c.mu.RLock()
	v, ok := c.m[offset]
	c.mu.RUnlock()
	return v, ok
}

// put stores v for offset, unless another lookup got there first, and returns the stored pointer.
func (c *recordCache[V]) put(offset uintptr, v V) *V {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.m[offset]; ok {
		return p
	}
	if c.m == nil {
		c.m = make(map[uintptr]*V)
	}
	p := &v
	c.m[offset] = p
	return p
}

// slash24Slots is the number of slots of a slash24Cache (24 bytes each, 384 KiB in all).
const slash24Slots = 1 << 14

// slash24Cache remembers the answers for recently seen IPv4 /24 networks, so that repeated lookups from a
// network skip both search trees. It is direct-mapped: each /24 has one slot, and a newer /24 takes the
// slot from an older one. Only /24s that lie wholly inside one network of each database are stored, as
// only for them is the answer the same for every address.
//
// Each slot is a sequence lock: state packs a sequence number (high 32 bits; odd while a writer fills
// the slot, 0 while it is empty) with the /24 (low 32 bits). A reader that sees the same even, non-zero
// state before and after reading the pointers has read one consistent entry; anything else is a miss.
type slash24Cache struct {
	slots [slash24Slots]slash24Slot
}

type slash24Slot struct {
	state   atomic.Uint64
	asn     atomic.Pointer[Info]   // ASN part of the answer; nil = unknown
	country atomic.Pointer[string] // nil = unknown
}

// slash24Key returns the /24 of an IPv4 address as a number.
func slash24Key(addr netip.Addr) uint32 {
	a := addr.As4()
	return uint32(a[0])<<16 | uint32(a[1])<<8 | uint32(a[2])
}

func (c *slash24Cache) slot(key uint32) *slash24Slot {
	// Fibonacci hashing spreads neighbouring /24s over the table.
	return &c.slots[(key*2654435769)>>(32-14)]
}

func (c *slash24Cache) get(key uint32) (asn *Info, country *string, ok bool) {
	s := c.slot(key)
	before := s.state.Load()
	if seq := before >> 32; seq == 0 || seq&1 == 1 || uint32(before) != key {
		return nil, nil, false
	}
	asn, country = s.asn.Load(), s.country.Load()
	if s.state.Load() != before {
		return nil, nil, false
	}
	return asn, country, true
}

// put fills key's slot; when another writer holds the slot it gives up, as the entry is only a cache.
func (c *slash24Cache) put(key uint32, asn *Info, country *string) {
	s := c.slot(key)
	old := s.state.Load()
	seq := old >> 32
	if seq&1 == 1 || !s.state.CompareAndSwap(old, (seq+1)<<32|uint64(key)) {
		return
	}
	s.asn.Store(asn)
	s.country.Store(country)
	s.state.Store((seq+2)<<32 | uint64(key))
}
