package compensation

import (
	"testing"
	"time"

	"github.com/brokerguard/brokerguard/internal/reconstruct"
	"github.com/brokerguard/brokerguard/internal/reconstruct/reconstructtest"
	"github.com/brokerguard/brokerguard/internal/testlog"
)

// timeline is the event log a test writes (see testlog).
type timeline = testlog.Log

func at(short string) string { return testlog.At(short) }

func collect(t testing.TB, tl *timeline, incs ...reconstruct.Claim) *reconstruct.Book {
	return reconstructtest.Collect(t, tl, incs...)
}

func reconstructOf(t testing.TB, b *reconstruct.Book, inc reconstruct.Claim) *reconstruct.Reconstruction {
	return reconstructtest.Reconstruct(t, b, inc)
}

func mustTime(t testing.TB, s string) time.Time { return reconstructtest.Time(t, s) }

func day(t testing.TB, s string) reconstruct.Day { return reconstructtest.Day(t, s) }
