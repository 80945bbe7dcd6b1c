package profile

// Hash returns the 64-bit FNV-1a hash of s. Profiles keep hashes of devices, networks and destinations
// rather than the strings: smaller, and no personal data in memory dumps. It is stable across runs.
func Hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Seen is one remembered value (a device, a network, a country) with when it was last seen and how often.
type Seen struct {
	Key  uint64
	Last uint32 // unix seconds
	N    uint32
}

// SeenSet is a small bounded set of remembered values; when full, the least recently seen is forgotten.
type SeenSet []Seen

// Find returns the entry for key, or nil.
func (s SeenSet) Find(key uint64) *Seen {
	for i := range s {
		if s[i].Key == key {
			return &s[i]
		}
	}
	return nil
}

// Has reports whether key is in the set.
func (s SeenSet) Has(key uint64) bool { return s.Find(key) != nil }

// Add records a sighting of key at unix time t, keeping at most max entries.
func (s *SeenSet) Add(key uint64, t uint32, max int) {
	if e := s.Find(key); e != nil {
		if t > e.Last {
			e.Last = t
		}
		if e.N < ^uint32(0) {
			e.N++
		}
		return
	}
	if len(*s) < max {
		if *s == nil {
			*s = make(SeenSet, 0, min(max, 2))
		}
		*s = append(*s, Seen{Key: key, Last: t, N: 1})
		return
	}
	oldest := 0
	for i := range *s {
		if (*s)[i].Last < (*s)[oldest].Last {
			oldest = i
		}
	}
	(*s)[oldest] = Seen{Key: key, Last: t, N: 1}
}
