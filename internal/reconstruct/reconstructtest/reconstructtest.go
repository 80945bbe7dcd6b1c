// Package reconstructtest reads the event logs that tests write with testlog into a reconstruction's
// book, failing the test on a bad line, for the packages built on reconstruct.
package reconstructtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/reconstruct"
	"github.com/brokerguard/brokerguard/internal/testlog"
)

// Collect reads the log for the claims and fails the test on any bad line.
func Collect(t testing.TB, l *testlog.Log, claims ...reconstruct.Claim) *reconstruct.Book {
	t.Helper()
	b, err := reconstruct.Collect(context.Background(), strings.NewReader(l.String()), claims)
	if err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Bad > 0 {
		t.Fatalf("bad event lines: %v", st.Errors)
	}
	return b
}

// Reconstruct reconstructs one claim from the book, failing the test on an error.
func Reconstruct(t testing.TB, b *reconstruct.Book, claim reconstruct.Claim) *reconstruct.Reconstruction {
	t.Helper()
	rec, err := b.Reconstruct(&claim)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// Time parses an RFC 3339 time, failing the test on an error.
func Time(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// Day parses a trading day (YYYY-MM-DD), failing the test on an error.
func Day(t testing.TB, s string) reconstruct.Day {
	t.Helper()
	d, err := reconstruct.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
