package sim

import (
	"net/netip"
	"sort"
	"sync"

	"github.com/brokerguard/brokerguard/internal/ipintel"
)

// TableIP answers IP lookups from the simulator's embedded table of real networks, so that the demo has
// IP intelligence without any files. Addresses outside the table are unknown.
type TableIP struct {
	starts []uint32
	ends   []uint32
	infos  []ipintel.Info
}

var (
	tableOnce sync.Once
	table     *TableIP
)

// IPIntel returns the lookup over the embedded table (attribution: see iptable.go).
func IPIntel() *TableIP {
	tableOnce.Do(func() {
		type row struct {
			start, end uint32
			info       ipintel.Info
		}
		rows := make([]row, 0, len(ipTable))
		for _, r := range ipTable {
			p, err := netip.ParsePrefix(r.Prefix)
			if err != nil || !p.Addr().Is4() {
				continue
			}
			b := p.Masked().Addr().As4()
			start := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			end := start | (1<<(32-p.Bits()) - 1)
			rows = append(rows, row{start, end, ipintel.Info{ASN: r.ASN, Org: r.Org, Country: r.Country,
				Hosting: r.Kind == kindHosting || r.Kind == kindVPN, VPN: r.Kind == kindVPN}})
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].start < rows[j].start })
		t := &TableIP{}
		for _, r := range rows {
			t.starts, t.ends, t.infos = append(t.starts, r.start), append(t.ends, r.end), append(t.infos, r.info)
		}
		table = t
	})
	return table
}

// Lookup implements detect.IPIntel.
func (t *TableIP) Lookup(addr netip.Addr) ipintel.Info {
	addr = addr.Unmap()
	if !addr.Is4() {
		return ipintel.Info{}
	}
	b := addr.As4()
	ip := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	i := sort.Search(len(t.starts), func(i int) bool { return t.starts[i] > ip }) - 1
	if i >= 0 && ip <= t.ends[i] {
		return t.infos[i]
	}
	return ipintel.Info{}
}
