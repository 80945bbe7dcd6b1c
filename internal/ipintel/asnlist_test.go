package ipintel

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestParseASNList(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []uint32
	}{
		{"empty", "", nil},
		{"comments and blanks", "# header\n\n   \n# more\n", nil},
		{"plain", "13335\n15169\n", []uint32{13335, 15169}},
		{"AS prefix, any case", "AS13335\nas15169\nAs9009\n", []uint32{9009, 13335, 15169}},
		{"trailing comment", "13335 # Cloudflare\n", []uint32{13335}},
		{"spaces and CRLF", "  13335  \r\n\t15169\r\n", []uint32{13335, 15169}},
		{"byte order mark", "\uFEFF13335\n", []uint32{13335}},
		{"no final newline", "13335", []uint32{13335}},
		{"duplicates", "13335\n13335\n", []uint32{13335}},
		{"largest ASN", "4294967295\n", []uint32{4294967295}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := parseASNList(strings.NewReader(tt.input), "list.txt")
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			got := slices.Sorted(maps.Keys(set))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseASNListErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"letters", "13335\nAS12x\n", "list.txt:2:"},
		{"negative", "-5\n", "list.txt:1:"},
		{"plus sign", "+5\n", "list.txt:1:"},
		{"hex", "0x10\n", "list.txt:1:"},
		{"too large", "\n\n4294967296\n", "list.txt:3:"},
		{"zero", "0\n", "list.txt:1:"},
		{"prefix only", "AS\n", "list.txt:1:"},
		{"space after prefix", "AS 13335\n", "list.txt:1:"},
		{"two numbers", "13335 15169\n", "list.txt:1:"},
		{"CIDR instead of ASN", "1.0.0.0/24\n", "list.txt:1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseASNList(strings.NewReader(tt.input), "list.txt")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func FuzzParseASNList(f *testing.F) {
	f.Add("# header\n13335\nAS15169 # Google\n\n")
	f.Add("\uFEFF9009\r\n")
	f.Add("AS12x\n")
	f.Fuzz(func(t *testing.T, input string) {
		set, err := parseASNList(strings.NewReader(input), "list.txt")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "IP data list.txt") {
				t.Errorf("got error %q, want it to name the file", err)
			}
			return
		}
		if _, ok := set[0]; ok {
			t.Errorf("got AS0 in the set of %q, want it refused", input)
		}
	})
}
