package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new password hashes (RFC 9106's second recommended option, with 64 MiB).
// They are written into each hash, so that raising them later still checks the old hashes.
const (
	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 2
	argonKeyLen  = 32
	argonSaltLen = 16
)

// MinPasswordLen is the shortest password accepted, in characters.
const MinPasswordLen = 12

// maxPasswordLen bounds the work one sign-in can ask for.
const maxPasswordLen = 1024

// CheckNewPassword refuses a password too short or too long to be set.
func CheckNewPassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinPasswordLen:
		return fmt.Errorf("password: %d characters; want at least %d", n, MinPasswordLen)
	case len(pw) > maxPasswordLen:
		return fmt.Errorf("password: longer than %d bytes", maxPasswordLen)
	case strings.ContainsAny(pw, "\r\n"):
		return errors.New("password: contains a line break")
	}
	return nil
}

// HashPassword returns the argon2id hash of pw with a new random salt, in the encoded form
// $argon2id$v=19$m=65536,t=3,p=2$SALT$HASH (unpadded base64).
func HashPassword(pw string) (string, error) {
	if err := CheckNewPassword(pw); err != nil {
		return "", err
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches the encoded hash; a hash it cannot read is an error.
func CheckPassword(encoded, pw string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errors.New("password hash: not an encoded argon2id hash")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, fmt.Errorf("password hash: version %q: want v=%d", parts[2], argon2.Version)
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m < 8 || m > 4<<20 || t < 1 || t > 100 || p < 1 {
		return false, fmt.Errorf("password hash: parameters %q: want m=KiB,t=passes,p=threads", parts[3])
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, errors.New("password hash: bad salt")
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, errors.New("password hash: bad hash")
	}
	if len(pw) > maxPasswordLen {
		return false, nil
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
