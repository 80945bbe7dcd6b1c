package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// The audit trail is a hash chain: each entry stores the hash of the entry before it and its own,
// SHA-256 over that previous hash and the entry's canonical bytes (AuditHash). An entry edited,
// deleted, inserted or moved breaks the chain at the first entry after the change, which
// VerifyAudit reports. Entries written before the chain existed (an older brokerguard) have no hash;
// they can only precede the chain.

// ChainedAudit is an audit record with its place in the chain.
type ChainedAudit struct {
	AuditRecord
	Prev, Hash []byte // nil for entries written before the chain
}

// AuditChain reads the audit trail with its hashes. The SQLite and PostgreSQL stores implement it.
type AuditChain interface {
	// AuditChain returns up to limit entries with Seq > after, oldest first.
	AuditChain(ctx context.Context, after int64, limit int) ([]ChainedAudit, error)
}

// zeroHash is the previous hash of the first chained entry.
var zeroHash = make([]byte, sha256.Size)

// AuditHash returns SHA-256(prev ‖ canonical bytes of the entry). The canonical bytes are a version
// tag, then the sequence number, wall time and data time (Unix nanoseconds, 8 bytes big-endian each),
// then actor, action, target, reason and data, each as its length (uvarint) and bytes. data is the
// JSON object as stored. A nil prev is the zero hash.
func AuditHash(prev []byte, seq, timeNS, dataTimeNS int64, actor, action, target, reason, data string) []byte {
	if prev == nil {
		prev = zeroHash
	}
	h := sha256.New()
	h.Write(prev)
	h.Write([]byte("brokerguard-audit-v1"))
	var b [binary.MaxVarintLen64]byte
	for _, n := range []int64{seq, timeNS, dataTimeNS} {
		binary.BigEndian.PutUint64(b[:8], uint64(n))
		h.Write(b[:8])
	}
	for _, s := range []string{actor, action, target, reason, data} {
		h.Write(b[:binary.PutUvarint(b[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	return h.Sum(nil)
}

// AuditVerification is what VerifyAudit found.
type AuditVerification struct {
	Entries  int64  // entries read
	Unhashed int64  // entries before the chain (written before it existed)
	Head     []byte // the hash of the last entry: note it elsewhere to detect a deletion at the end
	// Broken is the sequence number of the first entry that does not chain, 0 when all do; Problem
	// says why.
	Broken  int64
	Problem string
}

// VerifyAudit walks the whole audit trail and reports the first entry that breaks the chain.
func VerifyAudit(ctx context.Context, c AuditChain) (AuditVerification, error) {
	var (
		v       AuditVerification
		after   int64
		prev    []byte
		chained bool
		lastSeq int64
	)
	for {
		page, err := c.AuditChain(ctx, after, 1000)
		if err != nil {
			return v, err
		}
		for _, e := range page {
			v.Entries++
			after = e.Seq
			switch {
			case e.Hash == nil && !chained:
				v.Unhashed++
				lastSeq = e.Seq
				continue
			case e.Hash == nil:
				v.Broken, v.Problem = e.Seq, fmt.Sprintf("entry %d has no hash after chained entry %d: its hash was removed", e.Seq, lastSeq)
				return v, nil
			}
			want := prev
			if !chained {
				want = zeroHash
			}
			if !bytes.Equal(e.Prev, want) {
				what := "the entry before it was deleted, or entries were moved"
				if !chained {
					what = "the first chained entry does not start the chain: entries before it were deleted"
				}
				v.Broken, v.Problem = e.Seq, fmt.Sprintf("entry %d (%s %s) does not follow entry %d: %s", e.Seq, e.Action, e.Target, lastSeq, what)
				return v, nil
			}
			got := AuditHash(e.Prev, e.Seq, e.Time.UnixNano(), dataTimeNS(e.DataTime.UnixNano(), e.DataTime.IsZero()), e.Actor, e.Action, e.Target, e.Reason, string(e.Data))
			if !bytes.Equal(got, e.Hash) {
				v.Broken, v.Problem = e.Seq, fmt.Sprintf("entry %d (%s %s) was changed after it was written: its hash does not match its contents", e.Seq, e.Action, e.Target)
				return v, nil
			}
			prev, chained, lastSeq = e.Hash, true, e.Seq
		}
		if len(page) < 1000 {
			v.Head = prev
			return v, nil
		}
	}
}

func dataTimeNS(ns int64, zero bool) int64 {
	if zero {
		return 0
	}
	return ns
}
