package ipintel

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// asnSet is a set of autonomous system numbers read from a list file.
type asnSet map[uint32]struct{}

// readASNList reads the list file at path. A missing file is an empty set with found false; any other
// failure, including a bad line, is an error naming the file (and the line).
func readASNList(path string) (set asnSet, found bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("IP data: %w", err)
	}
	defer f.Close()
	set, err = parseASNList(f, path)
	if err != nil {
		return nil, false, err
	}
	return set, true, nil
}

// parseASNList reads one decimal ASN per line, with an optional "AS" prefix (any case). '#' starts a
// comment, on its own line or after the number; blank lines are skipped. name is used in errors, which
// read "name:line: reason".
func parseASNList(r io.Reader, name string) (asnSet, error) {
	set := asnSet{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\uFEFF")
		}
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		asn, err := parseASN(text)
		if err != nil {
			return nil, fmt.Errorf("IP data %s:%d: %w", name, line, err)
		}
		set[asn] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("IP data %s after line %d: %w", name, line, err)
	}
	return set, nil
}

// parseASN parses "13335" or "AS13335".
func parseASN(s string) (uint32, error) {
	digits := s
	if len(digits) >= 2 && strings.EqualFold(digits[:2], "AS") {
		digits = digits[2:]
	}
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not an ASN (want a decimal number from 1 to 4294967295)", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("%q is not an ASN (AS0 is reserved)", s)
	}
	return uint32(n), nil
}
