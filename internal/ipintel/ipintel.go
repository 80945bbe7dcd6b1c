// Package ipintel tells what brokerguard knows of a client's IP address: the autonomous system that
// announces it (number and organisation), its country, and whether that network is a hosting or VPN
// provider rather than an eyeball network of households and phones.
//
// The knowledge comes from one folder (see Open): MaxMind DB files in the GeoLite2 record layout (MaxMind
// GeoLite2, DB-IP Lite and files built to the same layout, such as shared/ipdata) and two plain lists of
// ASNs. The decision engine asks on every login, order and withdrawal, so Lookup never fails, does not
// allocate once the records it meets have been seen, and is safe for concurrent use. A nil *DB stands for
// "no IP data" and answers every lookup with a zero Info.
package ipintel

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Names of the list files that Open reads from the folder; either may be absent.
const (
	hostingListFile = "hosting-asns.txt"
	vpnListFile     = "vpn-asns.txt"
)

// probeRecords is how many records Open decodes from each database to check its record layout.
const probeRecords = 256

// Info is what brokerguard knows of one address.
type Info struct {
	ASN     uint32 // 0 = unknown
	Org     string // AS organisation, "" = unknown
	Country string // ISO 3166-1 alpha-2, "" = unknown
	Hosting bool   // the ASN is on the hosting list (datacenter, cloud, VPN: not an eyeball network)
	VPN     bool   // the ASN is on the VPN list
}

// DB answers lookups from the IP data of one folder. Its methods are safe for concurrent use, except
// Close, which must not run while lookups are in flight.
type DB struct {
	asn     *database // nil: no ASN database in the folder
	country *database // nil: no country database in the folder
	hosting asnSet
	vpn     asnSet
	ignored []string // "name.mmdb (database type)" of files that are neither kind

	// asnCache holds the ASN part of an Info (ASN, Org, Hosting, VPN) per ASN record; countryCache
	// holds the country code per country record; recent holds both parts per recently seen /24.
	asnCache     recordCache[Info]
	countryCache recordCache[string]
	recent       slash24Cache
	closed       atomic.Bool

	internMu sync.Mutex
	interned map[string]string // one copy of each organisation name and country code
}

// database is one opened MaxMind DB file.
type database struct {
	path   string
	reader *maxminddb.Reader
}

// asnRecord is the part of a GeoLite2-ASN (or DBIP-ASN-Lite) record that brokerguard reads.
type asnRecord struct {
	ASN uint32 `maxminddb:"autonomous_system_number"`
	Org string `maxminddb:"autonomous_system_organization"`
}

// countryRecord is the part of a GeoLite2-Country or GeoLite2-City record (or its DB-IP equivalent)
// that brokerguard reads. The registered country stands in when the record has no country, as for some
// anycast and satellite networks.
type countryRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

func (r *countryRecord) code() string {
	if r.Country.ISOCode != "" {
		return r.Country.ISOCode
	}
	return r.RegisteredCountry.ISOCode
}

// Open loads the IP data in dir:
//   - each *.mmdb file, recognised by the database_type in its metadata: one containing "ASN" is the ASN
//     database (GeoLite2-ASN, DBIP-ASN-Lite), else one containing "Country" or "City" is the country
//     database (GeoLite2-Country, GeoLite2-City, DBIP-Country-Lite, dbip-city-lite); case does not
//     matter, and files of other types are ignored (Describe names them);
//   - hosting-asns.txt and vpn-asns.txt: one decimal ASN per line, optionally prefixed with "AS", with
//     '#' comments and blank lines ignored.
//
// Every part is optional, but a folder with none of them is an error. Each database is verified in full
// and a sample of its records decoded, so that a corrupt file or one of another record layout is an
// error naming the file rather than a stream of empty answers. Two databases of the same kind, or a bad
// line in a list, are errors too.
func Open(dir string) (_ *DB, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open IP data: %w", err)
	}
	db := &DB{interned: make(map[string]string)}
	defer func() {
		if err != nil {
			_ = db.Close()
		}
	}()

	for _, e := range entries {
		if e.IsDir() || !strings.EqualFold(filepath.Ext(e.Name()), ".mmdb") {
			continue
		}
		d, err := openDatabase(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var slot **database
		var kind string
		switch typ := strings.ToLower(d.reader.Metadata.DatabaseType); {
		case strings.Contains(typ, "asn"):
			slot, kind = &db.asn, "ASN"
		case strings.Contains(typ, "country"), strings.Contains(typ, "city"):
			slot, kind = &db.country, "country"
		default:
			db.ignored = append(db.ignored, fmt.Sprintf("%s (%s)", e.Name(), d.reader.Metadata.DatabaseType))
			_ = d.reader.Close()
			continue
		}
		if *slot != nil {
			_ = d.reader.Close()
			return nil, fmt.Errorf("IP data %s: two %s databases, %s and %s; keep one",
				dir, kind, filepath.Base((*slot).path), e.Name())
		}
		*slot = d
	}
	if err := db.asn.probe(func(r maxminddb.Result) (bool, error) {
		var rec asnRecord
		err := r.Decode(&rec)
		return rec.ASN != 0, err
	}, "autonomous_system_number"); err != nil {
		return nil, err
	}
	if err := db.country.probe(func(r maxminddb.Result) (bool, error) {
		var rec countryRecord
		err := r.Decode(&rec)
		return rec.code() != "", err
	}, "country.iso_code"); err != nil {
		return nil, err
	}

	var foundHosting, foundVPN bool
	if db.hosting, foundHosting, err = readASNList(filepath.Join(dir, hostingListFile)); err != nil {
		return nil, err
	}
	if db.vpn, foundVPN, err = readASNList(filepath.Join(dir, vpnListFile)); err != nil {
		return nil, err
	}

	if db.asn == nil && db.country == nil && !foundHosting && !foundVPN {
		msg := fmt.Sprintf("IP data %s: nothing to load: looked for *.mmdb files whose database type names "+
			"ASN, Country or City, and for %s and %s", dir, hostingListFile, vpnListFile)
		if len(db.ignored) > 0 {
			msg += "; ignored " + strings.Join(db.ignored, ", ")
		}
		return nil, errors.New(msg)
	}
	return db, nil
}

// openDatabase opens and verifies one MaxMind DB file; errors name the file.
func openDatabase(path string) (*database, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("IP data %s: %w", path, err)
	}
	if err := r.Verify(); err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("IP data %s: corrupt MaxMind DB: %w", path, err)
	}
	return &database{path: path, reader: r}, nil
}

// probe decodes the first records of d with decode, which reports whether a record has the field that
// brokerguard reads. A decode error, or no record with the field, means the file has another record
// layout; it is an error naming the file. A nil d has nothing to check.
func (d *database) probe(decode func(maxminddb.Result) (bool, error), field string) error {
	if d == nil {
		return nil
	}
	seen := 0
	for r := range d.reader.Networks() {
		has, err := decode(r)
		if err != nil {
			return fmt.Errorf("IP data %s: record for %s does not have the GeoLite2 layout: %w",
				d.path, r.Prefix(), err)
		}
		if has {
			return nil
		}
		if seen++; seen == probeRecords {
			break
		}
	}
	if seen == 0 {
		return fmt.Errorf("IP data %s: the database holds no networks", d.path)
	}
	return fmt.Errorf("IP data %s: none of its first %d records has %s; the GeoLite2 layout is expected",
		d.path, seen, field)
}

// Lookup returns what the IP data tells of addr. It never fails: whatever is unknown (an address outside
// the databases, a missing database, an IPv6 address in IPv4-only data, a nil or closed DB) stays zero.
// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is looked up as the IPv4 address it carries.
func (db *DB) Lookup(addr netip.Addr) Info {
	if db == nil || db.closed.Load() {
		return Info{}
	}
	addr = addr.Unmap()
	if addr.Is4() {
		if asn, country, ok := db.recent.get(slash24Key(addr)); ok {
			return join(asn, country)
		}
	}
	return db.lookupMiss(addr)
}

// lookupMiss answers from the trees what the /24 cache could not, and stores the answer there when it
// holds for the whole /24.
func (db *DB) lookupMiss(addr netip.Addr) Info {
	asn, country, whole24 := db.lookupTrees(addr)
	if whole24 && addr.Is4() {
		db.recent.put(slash24Key(addr), asn, country)
	}
	return join(asn, country)
}

// join makes an Info of the ASN part and the country; nil parts are unknown.
func join(asn *Info, country *string) Info {
	var info Info
	if asn != nil {
		info = *asn
	}
	if country != nil {
		info.Country = *country
	}
	return info
}

// lookupTrees looks addr up in both databases. whole24 reports whether the answer holds for addr's
// whole /24, that is whether each database's network for addr is a /24 or larger.
func (db *DB) lookupTrees(addr netip.Addr) (asn *Info, country *string, whole24 bool) {
	whole24 = true
	if db.asn != nil {
		res := db.asn.reader.Lookup(addr)
		whole24 = res.Prefix().Bits() <= 24
		asn = db.asnPart(res)
	}
	if db.country != nil {
		res := db.country.reader.Lookup(addr)
		whole24 = whole24 && res.Prefix().Bits() <= 24
		country = db.countryPart(res)
	}
	return asn, country, whole24
}

// asnPart returns the ASN part of an Info (ASN, Org, Hosting, VPN) for an ASN database's result,
// decoding the record on its first use.
func (db *DB) asnPart(res maxminddb.Result) *Info {
	if !res.Found() {
		return nil
	}
	off := res.Offset()
	if p, ok := db.asnCache.get(off); ok {
		return p
	}
	var rec asnRecord
	if err := res.Decode(&rec); err != nil {
		rec = asnRecord{} // an unreadable record is unknown, and stays so
	}
	info := Info{ASN: rec.ASN, Org: db.intern(rec.Org)}
	if rec.ASN != 0 {
		_, info.Hosting = db.hosting[rec.ASN]
		_, info.VPN = db.vpn[rec.ASN]
	}
	return db.asnCache.put(off, info)
}

// countryPart returns the country code for a country database's result, decoding the record on its
// first use.
func (db *DB) countryPart(res maxminddb.Result) *string {
	if !res.Found() {
		return nil
	}
	off := res.Offset()
	if p, ok := db.countryCache.get(off); ok {
		return p
	}
	var rec countryRecord
	if err := res.Decode(&rec); err != nil {
		rec = countryRecord{} // an unreadable record is unknown, and stays so
	}
	return db.countryCache.put(off, db.intern(rec.code()))
}

// intern returns the one copy of s that db keeps, so that every record naming the same organisation or
// country shares a string.
func (db *DB) intern(s string) string {
	if s == "" {
		return ""
	}
	db.internMu.Lock()
	defer db.internMu.Unlock()
	if v, ok := db.interned[s]; ok {
		return v
	}
	db.interned[s] = s
	return s
}

// Describe summarises the loaded IP data for logs, e.g. "ASN: GeoLite2-ASN (2026-06-17, 657810 nodes);
// country: GeoLite2-Country (2026-06-17, 506372 nodes); hosting ASNs: 892; VPN ASNs: 15".
func (db *DB) Describe() string {
	if db == nil {
		return "no IP data"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ASN: %s; country: %s; hosting ASNs: %d; VPN ASNs: %d",
		db.asn.describe(), db.country.describe(), len(db.hosting), len(db.vpn))
	if len(db.ignored) > 0 {
		fmt.Fprintf(&b, "; ignored: %s", strings.Join(db.ignored, ", "))
	}
	return b.String()
}

func (d *database) describe() string {
	if d == nil {
		return "none"
	}
	m := d.reader.Metadata
	return fmt.Sprintf("%s (%s, %d nodes)", m.DatabaseType, m.BuildTime().UTC().Format("2006-01-02"), m.NodeCount)
}

// Close releases the database files. Lookups after Close return a zero Info. Closing a nil DB does
// nothing.
func (db *DB) Close() error {
	if db == nil {
		return nil
	}
	db.closed.Store(true)
	var errs []error
	for _, d := range []*database{db.asn, db.country} {
		if d == nil {
			continue
		}
		if err := d.reader.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close IP data %s: %w", d.path, err))
		}
	}
	return errors.Join(errs...)
}

// Prefix returns the network that addr is taken to share with its neighbours in "same network" checks:
// its /24 for IPv4 (and IPv4-mapped IPv6) addresses, its /48 for IPv6 ones. The zone is dropped; an
// invalid addr gives the zero Prefix.
func Prefix(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap().WithZone("")
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}
