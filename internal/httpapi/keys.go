package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"
)

// Key is one accepted bearer key, by the SHA-256 of its secret.
type Key struct {
	Name string
	Role string
	Hash [32]byte
}

// KeyRing finds the key whose secret hashes to hash. A ring may read its keys from a store at run time;
// an error (the store unreachable) is presented like any other, never as an unknown key.
type KeyRing interface {
	Lookup(ctx context.Context, hash [32]byte) (Key, bool, error)
}

// StaticKeys is a fixed set of keys, compared in constant time.
type StaticKeys []Key

var _ KeyRing = StaticKeys(nil)

// Lookup compares hash with every key, so that the time taken does not tell which key matched.
func (ks StaticKeys) Lookup(_ context.Context, hash [32]byte) (Key, bool, error) {
	var found Key
	ok := 0
	for i := range ks {
		if subtle.ConstantTimeCompare(hash[:], ks[i].Hash[:]) == 1 {
			found, ok = ks[i], 1
		}
	}
	return found, ok == 1, nil
}

// bearerToken returns the token of an Authorization header of the Bearer scheme. The scheme is
// case-insensitive (RFC 9110, 11.1).
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// authenticate returns the request's key if its role is one of roles. Neither answer says which keys
// or roles exist: a 401 does not tell a missing key from an unknown one, a 403 names neither the key
// nor the roles the endpoint needs.
func (s *Server) authenticate(r *http.Request, roles []string) (Key, error) {
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		return Key{}, errorf(http.StatusUnauthorized, CodeUnauthorized, "missing or unknown API key: send Authorization: Bearer KEY")
	}
	var k Key
	if s.o.Keys != nil {
		var err error
		if k, ok, err = s.o.Keys.Lookup(r.Context(), sha256.Sum256([]byte(token))); err != nil {
			return Key{}, err
		}
	} else {
		ok = false
	}
	if !ok {
		return Key{}, errorf(http.StatusUnauthorized, CodeUnauthorized, "missing or unknown API key: send Authorization: Bearer KEY")
	}
	if !slices.Contains(roles, k.Role) {
		return Key{}, errorf(http.StatusForbidden, CodeForbidden, "this key's role may not use this endpoint")
	}
	return k, nil
}
