package ipintel

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// ipDataDir returns the folder of the shared/ipdata files, whose known answers the tests check:
// $BROKERGUARD_IPDATA when set, else shared/ipdata beside the repository. The test is skipped when the
// default folder is absent; a folder named in the environment must exist.
func ipDataDir(tb testing.TB) string {
	tb.Helper()
	if dir := os.Getenv("BROKERGUARD_IPDATA"); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			tb.Fatalf("BROKERGUARD_IPDATA names a folder that cannot be used: %v", err)
		}
		return dir
	}
	dir := filepath.Join("..", "..", "..", "shared", "ipdata")
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("no IP data folder at %s (set BROKERGUARD_IPDATA to use another): %v", dir, err)
	}
	return dir
}

func openReal(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(ipDataDir(tb))
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestLookupKnownAnswers(t *testing.T) {
	db := openReal(t)
	tests := []struct {
		name    string
		addr    string
		want    Info
		orgHas  string // a word the organisation name contains; "" = no organisation
		anyCtry bool   // the country is not checked
	}{
		{name: "Cloudflare DNS", addr: "1.0.0.1", want: Info{ASN: 13335}, orgHas: "Cloudflare", anyCtry: true},
		{name: "NTT OCN", addr: "153.156.10.20", want: Info{ASN: 4713, Country: "JP"}, orgHas: "NTT"},
		{name: "AWS Tokyo", addr: "3.112.0.1", want: Info{ASN: 16509, Country: "JP", Hosting: true}, orgHas: "Amazon"},
		{name: "SoftBank", addr: "126.0.0.1", want: Info{ASN: 17676, Country: "JP"}, orgHas: "SoftBank"},
		{name: "NTT docomo", addr: "1.66.100.1", want: Info{ASN: 9605, Country: "JP"}, orgHas: "DOCOMO"},
		{name: "KDDI", addr: "106.128.0.1", want: Info{ASN: 2516, Country: "JP"}, orgHas: "KDDI"},
		{name: "Google DNS", addr: "8.8.8.8", want: Info{ASN: 15169, Country: "US", Hosting: true}, orgHas: "Google"},
		{name: "Korea Telecom", addr: "175.223.10.1", want: Info{ASN: 4766, Country: "KR"}, orgHas: "Korea Telecom"},
		{name: "M247, a VPN provider", addr: "2.56.16.1", want: Info{ASN: 9009, Country: "AE", Hosting: true, VPN: true}, orgHas: "M247"},
		{name: "IPv4-mapped IPv6", addr: "::ffff:153.156.10.20", want: Info{ASN: 4713, Country: "JP"}, orgHas: "NTT"},
		{name: "private address", addr: "10.1.2.3", want: Info{}},
		{name: "IPv6, not covered", addr: "2001:4860:4860::8888", want: Info{}},
		{name: "IPv6 link-local with zone", addr: "fe80::1%eth0", want: Info{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := db.Lookup(netip.MustParseAddr(tt.addr))
			if tt.orgHas == "" && got.Org != "" {
				t.Errorf("Org: got %q, want %q", got.Org, "")
			}
			if !strings.Contains(got.Org, tt.orgHas) {
				t.Errorf("Org: got %q, want one containing %q", got.Org, tt.orgHas)
			}
			got.Org = ""
			if tt.anyCtry {
				got.Country = ""
			}
			if got != tt.want {
				t.Errorf("Lookup(%s): got %+v, want %+v", tt.addr, got, tt.want)
			}
		})
	}
}

// TestLookupSplitSlash24 looks up neighbours in /24s that the databases split into smaller networks,
// each /24's first address first, so that a cached answer for the /24 would show in the later ones.
func TestLookupSplitSlash24(t *testing.T) {
	db := openReal(t)
	tests := []struct {
		addr        string
		wantASN     uint32
		wantCountry string
	}{
		{"2.27.26.1", 215730, "US"},
		{"2.27.26.33", 215730, "ES"},
		{"2.27.26.65", 215730, "JP"},
		{"2.27.26.97", 215730, "VN"},
		{"4.14.227.1", 3356, "US"},
		{"4.14.227.65", 10753, "US"},
		{"4.14.227.129", 10753, "US"},
	}
	for range 2 {
		for _, tt := range tests {
			got := db.Lookup(netip.MustParseAddr(tt.addr))
			if got.ASN != tt.wantASN || got.Country != tt.wantCountry {
				t.Errorf("Lookup(%s): got AS%d %q, want AS%d %q", tt.addr, got.ASN, got.Country, tt.wantASN, tt.wantCountry)
			}
		}
	}
}

// TestLookupMatchesTrees checks the caches against the databases: for addresses in small networks and
// their /24 neighbours, in an order that fills the caches first, Lookup agrees with a walk of the trees.
func TestLookupMatchesTrees(t *testing.T) {
	db := openReal(t)
	var addrs []netip.Addr
	for _, d := range []*database{db.asn, db.country} {
		n := 0
		for r := range d.reader.Networks() {
			p := r.Prefix()
			if !p.Addr().Is4() || p.Bits() <= 24 {
				continue
			}
			if n++; n%50 == 0 { // every 50th small network
				a := p.Addr().As4()
				addrs = append(addrs, p.Addr(), netip.AddrFrom4([4]byte{a[0], a[1], a[2], 0}),
					netip.AddrFrom4([4]byte{a[0], a[1], a[2], 255}))
			}
		}
	}
	addrs = append(addrs, sampleAddrs(t, db, 2000)...)
	for pass := range 2 {
		for _, a := range addrs {
			asn, country, _ := db.lookupTrees(a)
			if got, want := db.Lookup(a), join(asn, country); got != want {
				t.Fatalf("pass %d: Lookup(%s): got %+v, want %+v", pass, a, got, want)
			}
		}
	}
}

func TestLookupZeroAddr(t *testing.T) {
	db := openReal(t)
	if got := db.Lookup(netip.Addr{}); got != (Info{}) {
		t.Errorf("got %+v, want %+v", got, Info{})
	}
}

func TestNilDB(t *testing.T) {
	var db *DB
	if got := db.Lookup(netip.MustParseAddr("8.8.8.8")); got != (Info{}) {
		t.Errorf("Lookup: got %+v, want %+v", got, Info{})
	}
	if got, want := db.Describe(), "no IP data"; got != want {
		t.Errorf("Describe: got %q, want %q", got, want)
	}
	if err := db.Close(); err != nil {
		t.Errorf("Close: got %v, want nil", err)
	}
}

func TestLookupAfterClose(t *testing.T) {
	db, err := Open(ipDataDir(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	addr := netip.MustParseAddr("8.8.8.8")
	if got := db.Lookup(addr); got.ASN != 15169 {
		t.Fatalf("before Close: got ASN %v, want %v", got.ASN, 15169)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := db.Lookup(addr); got != (Info{}) {
		t.Errorf("after Close: got %+v, want %+v", got, Info{})
	}
}

func TestDescribe(t *testing.T) {
	db := openReal(t)
	got := db.Describe()
	for _, want := range []string{
		"ASN: GeoLite2-ASN (2026-06-17, 657810 nodes)",
		"country: GeoLite2-Country (2026-06-17, 506372 nodes)",
		"hosting ASNs: 892",
		"VPN ASNs: 15",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got %q, want it to contain %q", got, want)
		}
	}
}

// TestLookupDoesNotAllocate holds the hot path to its promise: once an address's records have been seen,
// looking it up again allocates nothing.
func TestLookupDoesNotAllocate(t *testing.T) {
	db := openReal(t)
	addrs := sampleAddrs(t, db, 64)
	for _, a := range addrs {
		db.Lookup(a)
	}
	i := 0
	got := testing.AllocsPerRun(1000, func() {
		db.Lookup(addrs[i%len(addrs)])
		i++
	})
	if got != 0 {
		t.Errorf("got %v allocations per lookup, want %v", got, 0)
	}
}

// TestLookupConcurrent has goroutines fill and read the caches of a fresh DB at once, with enough /24s
// that some share a slot of the /24 cache, and checks every answer against a walk of the trees.
func TestLookupConcurrent(t *testing.T) {
	db := openReal(t)
	addrs := sampleAddrs(t, db, 4000)
	want := make([]Info, len(addrs))
	for i, a := range addrs {
		asn, country, _ := db.lookupTrees(a)
		want[i] = join(asn, country)
	}
	fresh := openReal(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 3 * len(addrs) {
				i := (n*(2*g+1) + g*997) % len(addrs)
				if got := fresh.Lookup(addrs[i]); got != want[i] {
					t.Errorf("Lookup(%s): got %+v, want %+v", addrs[i], got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestPrefix(t *testing.T) {
	tests := []struct {
		addr string // "" is the zero Addr
		want string // "" is the zero Prefix
	}{
		{"153.156.10.20", "153.156.10.0/24"},
		{"1.0.0.1", "1.0.0.0/24"},
		{"::ffff:153.156.10.20", "153.156.10.0/24"},
		{"2001:db8:1:2::1", "2001:db8:1::/48"},
		{"fe80::1%eth0", "fe80::/48"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			var addr netip.Addr
			if tt.addr != "" {
				addr = netip.MustParseAddr(tt.addr)
			}
			var want netip.Prefix
			if tt.want != "" {
				want = netip.MustParsePrefix(tt.want)
			}
			if got := Prefix(addr); got != want {
				t.Errorf("Prefix(%s): got %v, want %v", tt.addr, got, want)
			}
		})
	}
}

// sampleAddrs returns n addresses spread over the networks of db's ASN database, the same on every run.
func sampleAddrs(tb testing.TB, db *DB, n int) []netip.Addr {
	tb.Helper()
	if db.asn == nil {
		tb.Fatal("no ASN database to sample")
	}
	var nets []netip.Prefix
	for r := range db.asn.reader.Networks() {
		if p := r.Prefix(); p.Addr().Is4() {
			nets = append(nets, p)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	addrs := make([]netip.Addr, n)
	for i := range addrs {
		p := nets[rng.IntN(len(nets))]
		a := p.Addr().As4()
		host := rng.Uint32() & (1<<(32-p.Bits()) - 1)
		for j := range 4 {
			a[3-j] |= byte(host >> (8 * j))
		}
		addrs[i] = netip.AddrFrom4(a)
	}
	return addrs
}

// lookupWorkloads are the address sets of the lookup benchmarks, each address in a network of the ASN
// database picked at random: a few busy networks (a firm's usual customers), and addresses spread over
// the announced IPv4 space, fewer and more than the /24 cache holds (a replay of many customers, a
// credential-stuffing wave over proxies).
var lookupWorkloads = []struct {
	name  string
	addrs int
}{
	{"addrs=64", 64},
	{"addrs=8192", 8192},
	{"addrs=131072", 131072},
}

// warmAddrs returns the addresses of a workload after looking each up once, so that the benchmark
// measures warm lookups.
func warmAddrs(b *testing.B, db *DB, n int) []netip.Addr {
	addrs := sampleAddrs(b, db, n)
	for _, a := range addrs {
		db.Lookup(a)
	}
	return addrs
}

// BenchmarkLookup measures warm lookups, ASN and country, one at a time.
func BenchmarkLookup(b *testing.B) {
	db := openReal(b)
	for _, w := range lookupWorkloads {
		b.Run(w.name, func(b *testing.B) {
			addrs := warmAddrs(b, db, w.addrs)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				db.Lookup(addrs[i%len(addrs)])
				i++
			}
		})
	}
}

// BenchmarkLookupParallel measures warm lookups from GOMAXPROCS goroutines at once.
func BenchmarkLookupParallel(b *testing.B) {
	db := openReal(b)
	for _, w := range lookupWorkloads {
		b.Run(w.name, func(b *testing.B) {
			addrs := warmAddrs(b, db, w.addrs)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := rand.IntN(len(addrs))
				for pb.Next() {
					db.Lookup(addrs[i%len(addrs)])
					i++
				}
			})
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	dir := ipDataDir(b)
	b.ReportAllocs()
	for b.Loop() {
		db, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		_ = db.Close()
	}
}
