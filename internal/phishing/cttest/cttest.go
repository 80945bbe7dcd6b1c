// Package cttest serves a Certificate Transparency log (RFC 6962) on loopback for tests: real
// certificates and precertificates issued by a test CA, a signed tree head over the Merkle tree hash of
// the entries, and get-entries answering at most 100 entries at a time, as public logs do.
package cttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	ct "github.com/google/certificate-transparency-go"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
)

// Log is an RFC 6962 log served over HTTP by a test.
type Log struct {
	t      testing.TB
	mu     sync.Mutex
	key    *ecdsa.PrivateKey
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	leaves []ct.LeafEntry
	hashes [][]byte // leaf hashes
	serial int64
	srv    *httptest.Server
	// URL is the log's base URL.
	URL string
}

// New starts a log; it stops when t ends.
func New(t testing.TB) *Log {
	l := &Log{t: t}
	l.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	l.caKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Issuing CA", Organization: []string{"Example Trust"}},
		NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &l.caKey.PublicKey, l.caKey)
	if err != nil {
		t.Fatal(err)
	}
	l.ca, _ = x509.ParseCertificate(der)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ct/v1/get-sth", l.getSTH)
	mux.HandleFunc("GET /ct/v1/get-entries", l.getEntries)
	l.srv = httptest.NewServer(mux)
	l.URL = l.srv.URL
	t.Cleanup(l.srv.Close)
	return l
}

// PublicKey is the log's key, DER, as log lists give it.
func (l *Log) PublicKey() []byte {
	b, _ := x509.MarshalPKIXPublicKey(&l.key.PublicKey)
	return b
}

var poisonOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}

// Issue logs a certificate (or a precertificate) for names, issued by the test CA ("Example Trust Test
// Issuing CA").
func (l *Log) Issue(precert bool, names ...string) {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.serial++
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(l.serial + 100), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)}
	if precert {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: poisonOID, Critical: true, Value: asn1.NullBytes}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, l.ca, &key.PublicKey, l.caKey)
	if err != nil {
		l.t.Fatal(err)
	}
	entry := &ct.TimestampedEntry{Timestamp: uint64(time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC).UnixMilli()) + uint64(l.serial)}
	var extra []byte
	if precert {
		c, err := ctx509.ParseCertificate(der)
		if err != nil && c == nil {
			l.t.Fatal(err)
		}
		tbs, err := ctx509.RemoveCTPoison(c.RawTBSCertificate)
		if err != nil {
			l.t.Fatal(err)
		}
		entry.EntryType = ct.PrecertLogEntryType
		entry.PrecertEntry = &ct.PreCert{IssuerKeyHash: sha256.Sum256(l.ca.RawSubjectPublicKeyInfo), TBSCertificate: tbs}
		extra, err = cttls.Marshal(ct.PrecertChainEntry{PreCertificate: ct.ASN1Cert{Data: der}, CertificateChain: []ct.ASN1Cert{{Data: l.ca.Raw}}})
		if err != nil {
			l.t.Fatal(err)
		}
	} else {
		entry.EntryType = ct.X509LogEntryType
		entry.X509Entry = &ct.ASN1Cert{Data: der}
		extra, err = cttls.Marshal(ct.CertificateChain{Entries: []ct.ASN1Cert{{Data: l.ca.Raw}}})
		if err != nil {
			l.t.Fatal(err)
		}
	}
	leaf, err := cttls.Marshal(ct.MerkleTreeLeaf{Version: ct.V1, LeafType: ct.TimestampedEntryLeafType, TimestampedEntry: entry})
	if err != nil {
		l.t.Fatal(err)
	}
	l.leaves = append(l.leaves, ct.LeafEntry{LeafInput: leaf, ExtraData: extra})
	h := sha256.Sum256(append([]byte{0}, leaf...))
	l.hashes = append(l.hashes, h[:])
}

// mth is RFC 6962's Merkle tree hash.
func mth(h [][]byte) []byte {
	switch len(h) {
	case 0:
		e := sha256.Sum256(nil)
		return e[:]
	case 1:
		return h[0]
	}
	k := 1
	for k*2 < len(h) {
		k *= 2
	}
	s := sha256.Sum256(append(append([]byte{1}, mth(h[:k])...), mth(h[k:])...))
	return s[:]
}

func (l *Log) getSTH(w http.ResponseWriter, _ *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sth := ct.SignedTreeHead{Version: ct.V1, TreeSize: uint64(len(l.leaves)), Timestamp: uint64(time.Date(2025, 4, 2, 0, 0, 0, 0, time.UTC).UnixMilli())}
	copy(sth.SHA256RootHash[:], mth(l.hashes))
	in, err := ct.SerializeSTHSignatureInput(sth)
	if err != nil {
		l.t.Error(err)
		return
	}
	sig, err := cttls.CreateSignature(*l.key, cttls.SHA256, in)
	if err != nil {
		l.t.Error(err)
		return
	}
	sigBytes, _ := cttls.Marshal(sig)
	json.NewEncoder(w).Encode(ct.GetSTHResponse{TreeSize: sth.TreeSize, Timestamp: sth.Timestamp, SHA256RootHash: sth.SHA256RootHash[:], TreeHeadSignature: sigBytes})
}

func (l *Log) getEntries(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	start, err1 := strconv.Atoi(r.URL.Query().Get("start"))
	end, err2 := strconv.Atoi(r.URL.Query().Get("end"))
	if err1 != nil || err2 != nil || start < 0 || end < start || start >= len(l.leaves) {
		http.Error(w, "bad range", http.StatusBadRequest)
		return
	}
	end = min(end, len(l.leaves)-1, start+99)
	json.NewEncoder(w).Encode(ct.GetEntriesResponse{Entries: l.leaves[start : end+1]})
}
