// Command ipgen derives the simulator's table of real IPv4 ranges from the IP reference data in
// shared/ipdata (MaxMind DB files built from RouteViews, NRO, DB-IP and ip-location-db data, CC BY 4.0;
// hosting and VPN ASN lists from X4BNet/lists_vpn, MIT) and writes it as Go source.
//
// For every wanted autonomous system it takes the largest networks of that ASN in asn-ipv4.mmdb (ties
// broken by address) whose whole extent maps to the wanted country in country-ipv4.mmdb, so every
// address the simulator draws from a range reads back as that ASN and country in the same files.
//
// Run it through go generate in internal/sim:
//
//	go run ./internal/ipgen -ipdata ../../../shared/ipdata -out iptable.go
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// want is one group of ranges to take: up to n networks of an ASN in a country, of a kind.
type want struct {
	asn     uint32
	country string
	kind    string // Go identifier of the simulator's range kind
	n       int
	within  string // only networks inside this prefix ("" = anywhere)
	outside string // only networks outside this prefix
	minBits int    // largest network to take (smallest prefix length); larger networks are split
}

var wants = []want{
	// Japanese fixed-line ISPs (FTTH and DSL homes).
	{asn: 4713, country: "JP", kind: "kindJPFixed", n: 4},                            // NTT OCN
	{asn: 17676, country: "JP", kind: "kindJPFixed", n: 3, outside: "126.0.0.0/8"},   // SoftBank BB
	{asn: 2516, country: "JP", kind: "kindJPFixed", n: 3, outside: "106.128.0.0/10"}, // KDDI au Hikari
	{asn: 2527, country: "JP", kind: "kindJPFixed", n: 3},                            // So-net / NURO
	{asn: 2518, country: "JP", kind: "kindJPFixed", n: 2},                            // BIGLOBE
	{asn: 2497, country: "JP", kind: "kindJPFixed", n: 2},                            // IIJ
	{asn: 9824, country: "JP", kind: "kindJPFixed", n: 2},                            // J:COM
	{asn: 18126, country: "JP", kind: "kindJPFixed", n: 1},                           // Chubu Telecommunications
	{asn: 17506, country: "JP", kind: "kindJPFixed", n: 1},                           // ARTERIA
	{asn: 4685, country: "JP", kind: "kindJPFixed", n: 1},                            // Asahi Net
	// Japanese mobile carriers.
	{asn: 9605, country: "JP", kind: "kindJPMobile", n: 3},                           // NTT docomo
	{asn: 2516, country: "JP", kind: "kindJPMobile", n: 1, within: "106.128.0.0/10"}, // au (KDDI)
	{asn: 17676, country: "JP", kind: "kindJPMobile", n: 2, within: "126.0.0.0/8"},   // SoftBank
	{asn: 138384, country: "JP", kind: "kindJPMobile", n: 2},                         // Rakuten Mobile
	// Consumer ISPs abroad (travel, foreign attackers).
	{asn: 4766, country: "KR", kind: "kindForeignISP", n: 2},  // Korea Telecom
	{asn: 3462, country: "TW", kind: "kindForeignISP", n: 2},  // Chunghwa Telecom
	{asn: 7922, country: "US", kind: "kindForeignISP", n: 1},  // Comcast
	{asn: 7018, country: "US", kind: "kindForeignISP", n: 1},  // AT&T
	{asn: 4760, country: "HK", kind: "kindForeignISP", n: 1},  // PCCW/HKT
	{asn: 45899, country: "VN", kind: "kindForeignISP", n: 1}, // VNPT
	{asn: 7552, country: "VN", kind: "kindForeignISP", n: 1},  // Viettel
	{asn: 9299, country: "PH", kind: "kindForeignISP", n: 1},  // PLDT
	{asn: 17552, country: "TH", kind: "kindForeignISP", n: 1}, // True Internet
	{asn: 9506, country: "SG", kind: "kindForeignISP", n: 1},  // Singtel
	{asn: 3215, country: "FR", kind: "kindForeignISP", n: 1},  // Orange
	{asn: 3320, country: "DE", kind: "kindForeignISP", n: 1},  // Deutsche Telekom
	{asn: 2856, country: "GB", kind: "kindForeignISP", n: 1},  // BT
	{asn: 1221, country: "AU", kind: "kindForeignISP", n: 1},  // Telstra
	{asn: 4134, country: "CN", kind: "kindForeignISP", n: 2},  // China Telecom
	{asn: 4837, country: "CN", kind: "kindForeignISP", n: 1},  // China Unicom
	// Hosting and cloud providers.
	{asn: 16509, country: "JP", kind: "kindHosting", n: 1, minBits: 16}, // Amazon
	{asn: 16509, country: "US", kind: "kindHosting", n: 1, minBits: 16},
	{asn: 16509, country: "SG", kind: "kindHosting", n: 1, minBits: 16},
	{asn: 14061, country: "SG", kind: "kindHosting", n: 1}, // DigitalOcean
	{asn: 14061, country: "US", kind: "kindHosting", n: 1},
	{asn: 14061, country: "NL", kind: "kindHosting", n: 1},
	{asn: 16276, country: "FR", kind: "kindHosting", n: 1}, // OVH
	{asn: 24940, country: "DE", kind: "kindHosting", n: 1}, // Hetzner
	{asn: 20473, country: "JP", kind: "kindHosting", n: 1}, // Vultr
	{asn: 20473, country: "US", kind: "kindHosting", n: 1},
	{asn: 63949, country: "JP", kind: "kindHosting", n: 1}, // Akamai Connected Cloud (Linode)
	{asn: 45102, country: "HK", kind: "kindHosting", n: 1}, // Alibaba Cloud
	{asn: 45102, country: "SG", kind: "kindHosting", n: 1},
	{asn: 132203, country: "HK", kind: "kindHosting", n: 1},            // Tencent Cloud
	{asn: 9370, country: "JP", kind: "kindHosting", n: 1},              // SAKURA Internet
	{asn: 7506, country: "JP", kind: "kindHosting", n: 1},              // GMO Internet
	{asn: 8075, country: "JP", kind: "kindHosting", n: 1, minBits: 16}, // Microsoft Azure
	{asn: 60068, country: "GB", kind: "kindHosting", n: 1},             // Datacamp (CDN77)
	// VPN providers' exit networks.
	{asn: 9009, country: "JP", kind: "kindVPN", n: 1}, // M247
	{asn: 9009, country: "US", kind: "kindVPN", n: 1},
	{asn: 9009, country: "SG", kind: "kindVPN", n: 1},
	{asn: 212238, country: "JP", kind: "kindVPN", n: 1}, // Datacamp (CDN77)
	{asn: 212238, country: "US", kind: "kindVPN", n: 1},
	{asn: 136787, country: "JP", kind: "kindVPN", n: 1}, // PacketHub
	{asn: 136787, country: "NL", kind: "kindVPN", n: 1},
	{asn: 9009, country: "GB", kind: "kindVPN", n: 1},
}

type asnRec struct {
	ASN uint32 `maxminddb:"autonomous_system_number"`
	Org string `maxminddb:"autonomous_system_organization"`
}

type countryRec struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
}

type network struct {
	prefix netip.Prefix
	org    string
}

func main() {
	dir := flag.String("ipdata", "../../../shared/ipdata", "folder with asn-ipv4.mmdb and country-ipv4.mmdb")
	out := flag.String("out", "iptable.go", "Go file to write")
	flag.Parse()
	if err := run(*dir, *out); err != nil {
		log.Fatal(err)
	}
}

func run(dir, out string) error {
	asnDB, err := maxminddb.Open(filepath.Join(dir, "asn-ipv4.mmdb"))
	if err != nil {
		return err
	}
	defer asnDB.Close()
	ctyDB, err := maxminddb.Open(filepath.Join(dir, "country-ipv4.mmdb"))
	if err != nil {
		return err
	}
	defer ctyDB.Close()

	wanted := map[uint32]bool{}
	for _, w := range wants {
		wanted[w.asn] = true
	}
	byASN := map[uint32][]network{}
	for res := range asnDB.Networks() {
		var r asnRec
		if err := res.Decode(&r); err != nil {
			return err
		}
		p := res.Prefix()
		if !wanted[r.ASN] || !p.Addr().Is4() {
			continue
		}
		byASN[r.ASN] = append(byASN[r.ASN], network{prefix: p, org: r.Org})
	}
	for _, ns := range byASN {
		sort.Slice(ns, func(i, j int) bool {
			if ns[i].prefix.Bits() != ns[j].prefix.Bits() {
				return ns[i].prefix.Bits() < ns[j].prefix.Bits()
			}
			return ns[i].prefix.Addr().Less(ns[j].prefix.Addr())
		})
	}

	var buf bytes.Buffer
	buf.WriteString(header)
	buf.WriteString("var ipTable = []ipRange{\n")
	taken := map[netip.Prefix]bool{}
	for _, w := range wants {
		got := 0
		for _, n := range byASN[w.asn] {
			if got == w.n {
				break
			}
			p := n.prefix
			if w.minBits > 0 && p.Bits() < w.minBits {
				p = netip.PrefixFrom(p.Addr(), w.minBits)
			}
			if p.Bits() > 24 || taken[p] {
				continue
			}
			if w.within != "" && !netip.MustParsePrefix(w.within).Contains(p.Addr()) {
				continue
			}
			if w.outside != "" && netip.MustParsePrefix(w.outside).Contains(p.Addr()) {
				continue
			}
			ok, err := wholeCountry(ctyDB, p, w.country)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			taken[p] = true
			got++
			fmt.Fprintf(&buf, "\t{%q, %d, %q, %q, %s},\n", p.String(), w.asn, n.org, w.country, w.kind)
		}
		if got < w.n {
			return fmt.Errorf("AS%d in %s: found %d of %d networks", w.asn, w.country, got, w.n)
		}
	}
	buf.WriteString("}\n")
	src, err := format.Source(buf.Bytes())
	if err != nil {
		return fmt.Errorf("format: %w\n%s", err, buf.Bytes())
	}
	return os.WriteFile(out, src, 0o644)
}

// wholeCountry reports whether every address of p maps to country cc.
func wholeCountry(db *maxminddb.Reader, p netip.Prefix, cc string) (bool, error) {
	res := db.Lookup(p.Addr())
	if err := res.Err(); err != nil {
		return false, err
	}
	if res.Found() && res.Prefix().Bits() <= p.Bits() {
		var r countryRec
		if err := res.Decode(&r); err != nil {
			return false, err
		}
		return r.Country.ISOCode == cc, nil
	}
	covered := uint64(0)
	for sub := range db.NetworksWithin(p) {
		var r countryRec
		if err := sub.Decode(&r); err != nil {
			return false, err
		}
		if r.Country.ISOCode != cc {
			return false, nil
		}
		covered += 1 << (32 - sub.Prefix().Bits())
	}
	return covered == 1<<(32-p.Bits()), nil
}

var header = strings.TrimLeft(`
// Code generated by internal/ipgen from shared/ipdata; DO NOT EDIT.

// The ranges below are real IPv4 networks with their autonomous system and country as published in
// the IP reference data of shared/ipdata (ASN and country data from the ip-location-db project by sapics,
// https://github.com/sapics/ip-location-db, combining RouteViews (https://www.routeviews.org/), the
// RIRs' statistics published by the NRO (https://www.nro.net/) and DB-IP IP to ASN Lite
// (IP Geolocation by DB-IP, https://db-ip.com/); all CC BY 4.0). The choice of hosting and VPN
// providers follows the X4BNet/lists_vpn ASN lists (https://github.com/X4BNet/lists_vpn, MIT License,
// Copyright (c) 2024 X4B (Mathew Heard)). Keep this attribution wherever the ranges are shown.

package sim

`, "\n")
