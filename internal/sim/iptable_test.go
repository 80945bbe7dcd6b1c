package sim

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
)

// ipdataDir finds the IP reference data: $BROKERGUARD_IPDATA, or shared/ipdata beside the repository.
func ipdataDir(t *testing.T) string {
	t.Helper()
	dirs := []string{os.Getenv("BROKERGUARD_IPDATA"), filepath.Join("..", "..", "..", "shared", "ipdata")}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "asn-ipv4.mmdb")); err == nil {
			return d
		}
	}
	t.Skip("IP reference data not found (set BROKERGUARD_IPDATA or place shared/ipdata beside the repository)")
	return ""
}

// TestIPTableMatchesIPData checks every embedded range against the MaxMind DB files it was derived
// from: the whole range must belong to the range's ASN and country.
func TestIPTableMatchesIPData(t *testing.T) {
	dir := ipdataDir(t)
	asnDB, err := maxminddb.Open(filepath.Join(dir, "asn-ipv4.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer asnDB.Close()
	ctyDB, err := maxminddb.Open(filepath.Join(dir, "country-ipv4.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer ctyDB.Close()
	for _, r := range ipTable {
		p := netip.MustParsePrefix(r.Prefix)
		size := uint64(1) << (32 - p.Bits())
		// ASN: the range lies inside one network of the ASN, or its networks cover it all.
		var asnRec struct {
			ASN uint32 `maxminddb:"autonomous_system_number"`
			Org string `maxminddb:"autonomous_system_organization"`
		}
		res := asnDB.Lookup(p.Addr())
		if err := res.Decode(&asnRec); err != nil {
			t.Fatalf("%s: %v", r.Prefix, err)
		}
		if res.Prefix().Bits() <= p.Bits() {
			if asnRec.ASN != r.ASN || asnRec.Org != r.Org {
				t.Errorf("%s: mmdb says AS%d %q, table AS%d %q", r.Prefix, asnRec.ASN, asnRec.Org, r.ASN, r.Org)
			}
		} else {
			covered := uint64(0)
			for sub := range asnDB.NetworksWithin(p) {
				if err := sub.Decode(&asnRec); err != nil {
					t.Fatal(err)
				}
				if asnRec.ASN != r.ASN {
					t.Errorf("%s: part %s is AS%d, table AS%d", r.Prefix, sub.Prefix(), asnRec.ASN, r.ASN)
				}
				covered += 1 << (32 - sub.Prefix().Bits())
			}
			if covered != size {
				t.Errorf("%s: ASN data covers %d of %d addresses", r.Prefix, covered, size)
			}
		}
		// Country, likewise.
		var cty struct {
			Country struct {
				ISOCode string `maxminddb:"iso_code"`
			} `maxminddb:"country"`
		}
		res = ctyDB.Lookup(p.Addr())
		if err := res.Decode(&cty); err != nil {
			t.Fatal(err)
		}
		if res.Prefix().Bits() <= p.Bits() {
			if cty.Country.ISOCode != r.Country {
				t.Errorf("%s: mmdb says %s, table %s", r.Prefix, cty.Country.ISOCode, r.Country)
			}
			continue
		}
		covered := uint64(0)
		for sub := range ctyDB.NetworksWithin(p) {
			if err := sub.Decode(&cty); err != nil {
				t.Fatal(err)
			}
			if cty.Country.ISOCode != r.Country {
				t.Errorf("%s: part %s is in %s, table %s", r.Prefix, sub.Prefix(), cty.Country.ISOCode, r.Country)
			}
			covered += 1 << (32 - sub.Prefix().Bits())
		}
		if covered != size {
			t.Errorf("%s: country data covers %d of %d addresses", r.Prefix, covered, size)
		}
	}
}

// TestIPTableKindsMatchLists checks the hosting and VPN ranges against the ASN lists.
func TestIPTableKindsMatchLists(t *testing.T) {
	dir := ipdataDir(t)
	read := func(name string) map[uint32]bool {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		m := map[uint32]bool{}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			n, err := strconv.ParseUint(line, 10, 32)
			if err != nil {
				t.Fatalf("%s: %q is not an ASN", name, line)
			}
			m[uint32(n)] = true
		}
		return m
	}
	hosting, vpn := read("hosting-asns.txt"), read("vpn-asns.txt")
	for _, r := range ipTable {
		switch r.Kind {
		case kindHosting:
			if !hosting[r.ASN] {
				t.Errorf("%s: AS%d is not in hosting-asns.txt", r.Prefix, r.ASN)
			}
		case kindVPN:
			if !vpn[r.ASN] {
				t.Errorf("%s: AS%d is not in vpn-asns.txt", r.Prefix, r.ASN)
			}
		case kindJPFixed, kindJPMobile, kindForeignISP:
			if hosting[r.ASN] || vpn[r.ASN] {
				t.Errorf("%s: eyeball range AS%d is on a hosting or VPN list", r.Prefix, r.ASN)
			}
		}
	}
}
