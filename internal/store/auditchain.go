package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
)

// The audit trail is a hash chain: each record keeps the hash of the record before it (Prev, empty for
// the first) and its own hash, SHA-256 over Prev and the record's canonical bytes. An edited record no
// longer matches its hash; a removed, inserted or moved record breaks the link of the record after it.
// Removing records from the end leaves a shorter chain that is intact: compare its head with a head
// recorded elsewhere (audit verify --head) to see that.

// auditDomain separates audit hashes from any other SHA-256 the product computes.
const auditDomain = "brokerguard audit v1\x00"

// AuditHash returns the hash of r chained to prev, the hash of the record before it (nil for the first).
// It covers every field of the record but Seq, Prev and Hash: the time, the data time, the actor, the
// action, the target, the reason and the data exactly as stored ("{}" when empty).
func AuditHash(prev []byte, r *AuditRecord) []byte {
	h := sha256.New()
	h.Write([]byte(auditDomain))
	field(h, prev)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(r.Time.UnixNano()))
	h.Write(n[:])
	var dt int64
	if !r.DataTime.IsZero() {
		dt = r.DataTime.UnixNano()
	}
	binary.BigEndian.PutUint64(n[:], uint64(dt))
	h.Write(n[:])
	for _, s := range []string{r.Actor, r.Action, r.Target, r.Reason} {
		field(h, []byte(s))
	}
	data := []byte(r.Data)
	if len(data) == 0 {
		data = []byte("{}")
	}
	field(h, data)
	return h.Sum(nil)
}

// field writes b with its length first, so that no two different records have the same bytes.
func field(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// AuditVerification is what VerifyAudit found.
type AuditVerification struct {
	Entries int64  `json:"entries"` // records read, up to the first break
	Head    string `json:"head"`    // the hash of the last intact record, hex; "" for an empty trail
	// Break describes the first record that does not hold, nil when the whole trail does.
	Break *AuditBreak `json:"break,omitempty"`
}

// AuditBreak is the first record of the trail that does not hold.
type AuditBreak struct {
	Seq     int64  `json:"seq"`     // the record's sequence number; 0 when records are missing at the end
	Problem string `json:"problem"` // edited | link_broken | unchained | missing_at_end
	Detail  string `json:"detail"`
}

// VerifyAudit reads the whole audit trail of s, oldest first, and checks every link of its chain. When
// head is not empty it must be the hash (hex) of a record of the trail: the trail must not end before
// it. The error is the store's; a broken trail is a Break, not an error.
func VerifyAudit(ctx context.Context, s interface {
	Audit(ctx context.Context, q AuditQuery) ([]AuditRecord, error)
}, head string) (AuditVerification, error) {
	var (
		v        AuditVerification
		prev     []byte
		prevSeq  int64
		headSeen = head == ""
		after    int64
	)
	for {
		recs, err := s.Audit(ctx, AuditQuery{After: after, Limit: 1000})
		if err != nil {
			return v, err
		}
		for i := range recs {
			r := &recs[i]
			switch {
			case len(r.Hash) == 0:
				v.Break = &AuditBreak{Seq: r.Seq, Problem: "unchained",
					Detail: fmt.Sprintf("entry %d has no hash: it was written around the chain or its hash was removed", r.Seq)}
			case !bytes.Equal(r.Prev, prev):
				v.Break = &AuditBreak{Seq: r.Seq, Problem: "link_broken", Detail: linkDetail(r.Seq, prevSeq)}
			case !bytes.Equal(AuditHash(r.Prev, r), r.Hash):
				v.Break = &AuditBreak{Seq: r.Seq, Problem: "edited",
					Detail: fmt.Sprintf("entry %d does not match its hash: it was changed after it was written", r.Seq)}
			}
			if v.Break != nil {
				return v, nil
			}
			prev, prevSeq = r.Hash, r.Seq
			v.Entries++
			v.Head = hex.EncodeToString(r.Hash)
			if !headSeen && v.Head == head {
				headSeen = true
			}
		}
		if len(recs) < 1000 {
			break
		}
		after = recs[len(recs)-1].Seq
	}
	if !headSeen {
		v.Break = &AuditBreak{Problem: "missing_at_end",
			Detail: fmt.Sprintf("no entry has the expected head %s: entries were removed from the end (the trail now ends at %s)", head, orNone(v.Head))}
	}
	return v, nil
}

func linkDetail(seq, prevSeq int64) string {
	if prevSeq == 0 {
		return fmt.Sprintf("entry %d is the first one left but was chained to an entry before it: the entries before it were removed or moved", seq)
	}
	return fmt.Sprintf("entry %d is not chained to entry %d before it: an entry between them was removed, or entries were moved", seq, prevSeq)
}

func orNone(s string) string {
	if s == "" {
		return "no entry"
	}
	return s
}
