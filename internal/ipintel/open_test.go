package ipintel

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles creates dir's files from name → content; content "@name" copies that file of the real IP
// data folder.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		data := []byte(content)
		if real, ok := strings.CutPrefix(content, "@"); ok {
			var err error
			if data, err = os.ReadFile(filepath.Join(ipDataDir(t), real)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // each must appear in the error
	}{
		{
			name: "empty folder",
			want: []string{"nothing to load", "*.mmdb", "ASN, Country or City", hostingListFile, vpnListFile},
		},
		{
			name:  "only an unrecognised file",
			files: map[string]string{"notes.txt": "hello"},
			want:  []string{"nothing to load"},
		},
		{
			name:  "bad hosting line",
			files: map[string]string{hostingListFile: "# header\n13335\n\nAS12x\n"},
			want:  []string{hostingListFile + ":4:", `"AS12x"`},
		},
		{
			name:  "bad VPN line",
			files: map[string]string{hostingListFile: "13335\n", vpnListFile: "9009\n-5\n"},
			want:  []string{vpnListFile + ":2:", `"-5"`},
		},
		{
			name:  "ASN beyond 32 bits",
			files: map[string]string{hostingListFile: "4294967296\n"},
			want:  []string{hostingListFile + ":1:", "4294967296"},
		},
		{
			name:  "AS0",
			files: map[string]string{hostingListFile: "AS0\n"},
			want:  []string{hostingListFile + ":1:", "reserved"},
		},
		{
			name:  "two numbers on a line",
			files: map[string]string{vpnListFile: "9009 20448\n"},
			want:  []string{vpnListFile + ":1:"},
		},
		{
			name:  "not a MaxMind DB",
			files: map[string]string{"broken.mmdb": "this is not a database"},
			want:  []string{"broken.mmdb"},
		},
		{
			name:  "empty mmdb",
			files: map[string]string{"empty.mmdb": ""},
			want:  []string{"empty.mmdb"},
		},
		{
			name:  "two ASN databases",
			files: map[string]string{"a-asn.mmdb": "@asn-ipv4.mmdb", "b-asn.mmdb": "@asn-ipv4.mmdb"},
			want:  []string{"two ASN databases", "a-asn.mmdb", "b-asn.mmdb"},
		},
		{
			name:  "two country databases",
			files: map[string]string{"c1.mmdb": "@country-ipv4.mmdb", "c2.mmdb": "@country-ipv4.mmdb"},
			want:  []string{"two country databases", "c1.mmdb", "c2.mmdb"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			db, err := Open(dir)
			if err == nil {
				db.Close()
				t.Fatalf("Open: got nil error, want one containing %q", tt.want)
			}
			if db != nil {
				t.Errorf("Open: got a DB with the error %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q, want it to contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("got error %q, want it to name the folder %s", err, dir)
			}
		})
	}
}

func TestOpenMissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "absent")
	_, err := Open(dir)
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("got error %v, want one naming %s", err, dir)
	}
}

// TestOpenDamagedDatabase damages a copy of the real ASN database in its search tree, past the part any
// single lookup would reach at once, and expects Open to name the file.
func TestOpenDamagedDatabase(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(ipDataDir(t), "asn-ipv4.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1 << 20; i < 1<<20+4096; i++ {
		data[i] = 0xff
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "asn.mmdb")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("got error %v, want one naming %s", err, path)
	}
}

func TestOpenTruncatedDatabase(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(ipDataDir(t), "country-ipv4.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "country.mmdb")
	if err := os.WriteFile(path, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("got error %v, want one naming %s", err, path)
	}
}

func TestOpenListsOnly(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		hostingListFile: "\uFEFF# hosting\r\n16509\r\nAS15169 # Google\r\n\r\nas9009\r\n16509\r\n",
		vpnListFile:     "  9009  \n",
	})
	db, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if got, want := db.Describe(), "ASN: none; country: none; hosting ASNs: 3; VPN ASNs: 1"; got != want {
		t.Errorf("Describe: got %q, want %q", got, want)
	}
	for _, asn := range []uint32{16509, 15169, 9009} {
		if _, ok := db.hosting[asn]; !ok {
			t.Errorf("hosting list: got no AS%d, want it", asn)
		}
	}
	if got := db.Lookup(netip.MustParseAddr("3.112.0.1")); got != (Info{}) {
		t.Errorf("Lookup without databases: got %+v, want %+v", got, Info{})
	}
}

// TestOpenPartial checks that each database works without the other parts.
func TestOpenPartial(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		want     Info
		describe string
	}{
		{
			name:     "country only",
			files:    map[string]string{"country.mmdb": "@country-ipv4.mmdb"},
			want:     Info{Country: "JP"},
			describe: "ASN: none; country: GeoLite2-Country (2026-06-17, 506372 nodes); hosting ASNs: 0; VPN ASNs: 0",
		},
		{
			name:     "ASN only, without lists",
			files:    map[string]string{"asn.mmdb": "@asn-ipv4.mmdb"},
			want:     Info{ASN: 16509, Org: "Amazon.com, Inc."},
			describe: "ASN: GeoLite2-ASN (2026-06-17, 657810 nodes); country: none; hosting ASNs: 0; VPN ASNs: 0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			db, err := Open(dir)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer db.Close()
			if got := db.Lookup(netip.MustParseAddr("3.112.0.1")); got != tt.want {
				t.Errorf("Lookup: got %+v, want %+v", got, tt.want)
			}
			if got := db.Describe(); got != tt.describe {
				t.Errorf("Describe: got %q, want %q", got, tt.describe)
			}
		})
	}
}
