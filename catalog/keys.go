package catalog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// privateKeyHeader starts a private key file; the next line is the base64
// ed25519 seed.
const privateKeyHeader = "junction-ed25519-private-key-v1"

// PublicKey is an ed25519 public key that signs catalog indexes or
// artifacts.
type PublicKey ed25519.PublicKey

// KeyID is the key's short identifier used in indexes: the first 16 hex
// digits of the sha256 of the key.
func (k PublicKey) KeyID() string {
	sum := sha256.Sum256(k)
	return hex.EncodeToString(sum[:8])
}

// String is the key in its text form: standard base64 of the 32 key bytes.
func (k PublicKey) String() string { return base64.StdEncoding.EncodeToString(k) }

// ParsePublicKey parses a key's text form (base64, optionally prefixed
// "ed25519:"), ignoring surrounding space.
func ParsePublicKey(s string) (PublicKey, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "ed25519:")
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key: want base64 of %d bytes", ed25519.PublicKeySize)
	}
	return PublicKey(b), nil
}

// ReadPublicKeyFile reads a public key file (its text form, as written by
// GenerateKeyFile to KEYFILE.pub).
func ReadPublicKeyFile(path string) (PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(b, []byte(privateKeyHeader)) {
		return nil, fmt.Errorf("%s is a private key: pass the public key (%s.pub)", path, path)
	}
	k, err := ParsePublicKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// PrivateKey is a publisher's signing key.
type PrivateKey struct{ key ed25519.PrivateKey }

// NewPrivateKey returns the key for a 32-byte ed25519 seed.
func NewPrivateKey(seed []byte) (PrivateKey, error) {
	if len(seed) != ed25519.SeedSize {
		return PrivateKey{}, fmt.Errorf("private key: want a %d-byte seed, got %d", ed25519.SeedSize, len(seed))
	}
	return PrivateKey{ed25519.NewKeyFromSeed(seed)}, nil
}

// Public returns the key's public half.
func (k PrivateKey) Public() PublicKey { return PublicKey(k.key.Public().(ed25519.PublicKey)) }

// Sign signs msg.
func (k PrivateKey) Sign(msg []byte) []byte { return ed25519.Sign(k.key, msg) }

// GenerateKeyFile creates a new key pair: the private key in path (mode
// 0600, refusing to overwrite an existing file) and the public key in
// path+".pub".
func GenerateKeyFile(path string) (PublicKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	k, _ := NewPrivateKey(seed)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write private key: %w", err)
	}
	_, err = fmt.Fprintf(f, "%s\n%s\n", privateKeyHeader, base64.StdEncoding.EncodeToString(seed))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("write private key: %w", err)
	}
	pub := k.Public()
	if err := os.WriteFile(path+".pub", []byte(pub.String()+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("write public key: %w", err)
	}
	return pub, nil
}

// ReadPrivateKeyFile reads a private key written by GenerateKeyFile. It
// refuses a file that others can read.
func ReadPrivateKeyFile(path string) (PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return PrivateKey{}, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return PrivateKey{}, fmt.Errorf("private key %s: mode %v lets others read it; chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return PrivateKey{}, err
	}
	header, body, _ := strings.Cut(string(b), "\n")
	if header != privateKeyHeader {
		return PrivateKey{}, fmt.Errorf("private key %s: not a junction private key file", path)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(body))
	if err != nil {
		return PrivateKey{}, fmt.Errorf("private key %s: %w", path, err)
	}
	k, err := NewPrivateKey(seed)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("private key %s: %w", path, err)
	}
	return k, nil
}

// ArtifactMessage is the canonical encoding an artifact signature covers:
// a domain line, then name, version, platform, lower-case hex sha256 and
// decimal size, each on its own line. The fields are validated to hold no
// newlines, so the encoding is unambiguous.
func ArtifactMessage(name, version, platform, sha256Hex string, size int64) []byte {
	return []byte("junction-artifact-v1\n" + name + "\n" + version + "\n" + platform + "\n" + sha256Hex + "\n" + strconv.FormatInt(size, 10) + "\n")
}

// indexMessage is what an index signature covers: a domain line and the
// exact bytes of index.json.
func indexMessage(index []byte) []byte {
	return append([]byte("junction-index-v1\n"), index...)
}

func verifySig(k PublicKey, msg []byte, sigB64 string) error {
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("malformed signature")
	}
	if !ed25519.Verify(ed25519.PublicKey(k), msg, sig) {
		return errors.New("bad signature")
	}
	return nil
}
