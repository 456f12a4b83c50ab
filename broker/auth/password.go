package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters (RFC 9106's second recommended option, with less
// memory so that logins stay cheap on small machines).
const (
	argonTime    = 3
	argonMemory  = 64 << 10 // KiB
	argonThreads = 2
	argonKeyLen  = 32
	saltLen      = 16
	// MinPasswordLen is the shortest accepted password.
	MinPasswordLen = 8
	// MaxPasswordLen bounds the work one login can ask for.
	MaxPasswordLen = 1024
	// maxConcurrentKDF bounds the password hashes computed at once.
	maxConcurrentKDF = 2
)

// hash is hashPassword within the KDF bound.
func (a *Auth) hash(password string) (string, error) {
	a.kdf <- struct{}{}
	defer func() { <-a.kdf }()
	return hashPassword(password)
}

// check is checkPassword within the KDF bound.
func (a *Auth) check(hash, password string) (bool, error) {
	a.kdf <- struct{}{}
	defer func() { <-a.kdf }()
	return checkPassword(hash, password)
}

var b64 = base64.RawStdEncoding

// hashPassword returns the PHC string of password under argon2id with a
// fresh salt.
func hashPassword(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("stored password hash is malformed")

// checkPassword reports whether password matches the PHC string hash.
func checkPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	var mem, iters uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iters, &threads); err != nil || mem > 1<<20 || iters > 16 || threads == 0 {
		return false, errBadHash
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 64 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, iters, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func checkPasswordPolicy(password string) error {
	switch {
	case len(password) < MinPasswordLen:
		return fmt.Errorf("%w: password must be at least %d characters", ErrInvalid, MinPasswordLen)
	case len(password) > MaxPasswordLen:
		return fmt.Errorf("%w: password must be at most %d bytes", ErrInvalid, MaxPasswordLen)
	}
	return nil
}
