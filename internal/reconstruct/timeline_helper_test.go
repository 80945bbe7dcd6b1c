package reconstruct

import (
	"context"
	"strings"
	"testing"

	"github.com/brokerguard/brokerguard/internal/testlog"
)

// timeline is the event log a test writes (see testlog).
type timeline = testlog.Log

func at(short string) string { return testlog.At(short) }

// collect reads the timeline for the incidents and fails the test on any bad line.
func collect(t testing.TB, tl *timeline, incs ...Claim) *Book {
	t.Helper()
	b, err := Collect(context.Background(), strings.NewReader(tl.String()), incs)
	if err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Bad > 0 {
		t.Fatalf("bad event lines: %v", st.Errors)
	}
	return b
}

func reconstruct(t testing.TB, b *Book, inc Claim) *Reconstruction {
	t.Helper()
	rec, err := b.Reconstruct(&inc)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}
