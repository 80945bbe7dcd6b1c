package sim

import (
	"net/netip"
	"strconv"
)

//go:generate go run ./internal/ipgen -ipdata ../../../shared/ipdata -out iptable.go

// netKind classifies a range by who uses it.
type netKind uint8

const (
	kindJPFixed    netKind = iota // Japanese fixed-line ISP: homes, small offices
	kindJPMobile                  // Japanese mobile carrier (carrier-grade NAT: addresses shared)
	kindForeignISP                // consumer ISP abroad
	kindHosting                   // datacenter, cloud, VPS
	kindVPN                       // VPN provider exit network
	numNetKinds
)

var netKindNames = [numNetKinds]string{"jp_fixed", "jp_mobile", "foreign_isp", "hosting", "vpn"}

func (k netKind) String() string { return netKindNames[k] }

// ipRange is one real network of the embedded table (see iptable.go for its sources).
type ipRange struct {
	Prefix  string
	ASN     uint32
	Org     string
	Country string
	Kind    netKind
}

// addr is an IPv4 address with the table range it was drawn from.
type addr struct {
	ip  uint32
	rng int16 // index into ipTable
}

func (a addr) country() string { return ipTable[a.rng].Country }
func (a addr) kind() netKind   { return ipTable[a.rng].Kind }
func (a addr) asn() uint32     { return ipTable[a.rng].ASN }

func appendIP(b []byte, ip uint32) []byte {
	b = strconv.AppendUint(b, uint64(ip>>24), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(ip>>16&0xff), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(ip>>8&0xff), 10)
	b = append(b, '.')
	return strconv.AppendUint(b, uint64(ip&0xff), 10)
}

func (a addr) String() string { return string(appendIP(nil, a.ip)) }

// netTable indexes the embedded ranges for drawing addresses.
type netTable struct {
	base, size []uint32
	byKind     [numNetKinds][]int
	weight     []float64 // drawing weight within a kind (fixed ISPs by rough market share)
	cached     map[string]int
	cachedW    [][]float64
}

// Rough shares of Japanese fixed broadband and mobile subscribers by ASN, used as drawing weights.
var asnWeight = map[uint32]float64{
	4713: 30, 17676: 16, 2516: 18, 2527: 12, 2518: 6, 2497: 3, 9824: 8, 18126: 3, 17506: 2, 4685: 2,
	9605: 36, 138384: 6,
}

func newNetTable() *netTable {
	t := &netTable{base: make([]uint32, len(ipTable)), size: make([]uint32, len(ipTable)), weight: make([]float64, len(ipTable))}
	for i, r := range ipTable {
		p := netip.MustParsePrefix(r.Prefix)
		a := p.Addr().As4()
		t.base[i] = uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
		t.size[i] = uint32(1) << (32 - p.Bits())
		t.byKind[r.Kind] = append(t.byKind[r.Kind], i)
		w := 1.0
		if v, ok := asnWeight[r.ASN]; ok {
			w = v
		}
		t.weight[i] = w
	}
	// Split a carrier's weight over its ranges; KDDI and SoftBank mobile get their share here.
	count := map[uint32]map[netKind]int{}
	for _, r := range ipTable {
		if count[r.ASN] == nil {
			count[r.ASN] = map[netKind]int{}
		}
		count[r.ASN][r.Kind]++
	}
	for i, r := range ipTable {
		w := t.weight[i]
		if r.Kind == kindJPMobile && (r.ASN == 2516 || r.ASN == 17676) {
			w = 26
		}
		t.weight[i] = w / float64(count[r.ASN][r.Kind])
	}
	return t
}

// draw returns a random host address of range i (never the first or last address of a /24).
func (t *netTable) draw(r *rng, i int) addr {
	for {
		ip := t.base[i] + uint32(r.int64n(int64(t.size[i])))
		if low := ip & 0xff; low != 0 && low != 255 {
			return addr{ip: ip, rng: int16(i)}
		}
	}
}

// rangeOf returns a range of kind k drawn by weight, limited to country cc when cc is not "".
func (t *netTable) rangeOf(r *rng, k netKind, cc string) int {
	key := cc + "/" + k.String()
	if i, ok := t.cached[key]; ok {
		return t.byKind[k][r.pick(t.cachedW[i])]
	}
	idx := t.byKind[k]
	ws := make([]float64, len(idx))
	any := false
	for j, i := range idx {
		if cc == "" || ipTable[i].Country == cc {
			ws[j] = t.weight[i]
			any = true
		}
	}
	if !any {
		for j, i := range idx {
			ws[j] = t.weight[i]
		}
	}
	if t.cached == nil {
		t.cached = map[string]int{}
	}
	t.cached[key] = len(t.cachedW)
	t.cachedW = append(t.cachedW, ws)
	return idx[r.pick(ws)]
}

// drawKind returns an address of kind k (in country cc when cc is not "" and the table has one).
func (t *netTable) drawKind(r *rng, k netKind, cc string) addr {
	return t.draw(r, t.rangeOf(r, k, cc))
}
