package catalog

import (
	"fmt"
	"slices"
	"strings"
)

// TrustedKey is a publisher key the user trusts, pinned to the connector
// names it may sign.
type TrustedKey struct {
	// Publisher names who holds the key, for messages and `hub trust`.
	Publisher string `yaml:"publisher" json:"publisher"`
	// Key is the public key's text form.
	Key string `yaml:"key" json:"key"`
	// Connectors are the names the key may sign: an exact name, a prefix
	// ending in "*" ("acme-*"), or "*" for any name.
	Connectors []string `yaml:"connectors" json:"connectors"`
}

// Allows reports whether the key may sign connector name.
func (k TrustedKey) Allows(name string) bool {
	for _, p := range k.Connectors {
		if p == name || p == "*" || (strings.HasSuffix(p, "*") && strings.HasPrefix(name, strings.TrimSuffix(p, "*"))) {
			return true
		}
	}
	return false
}

// CheckPattern validates one Connectors entry.
func CheckPattern(p string) error {
	if p == "*" || ValidName(p) {
		return nil
	}
	if pre, ok := strings.CutSuffix(p, "*"); ok && (ValidName(pre) || (strings.HasSuffix(pre, "-") && ValidName(strings.TrimSuffix(pre, "-")))) {
		return nil
	}
	return fmt.Errorf("connector pattern %q: want a name, a prefix ending in * (acme-*), or *", p)
}

type trusted struct {
	TrustedKey
	pub PublicKey
}

// TrustStore answers which keys may sign which connectors. Build it with
// NewTrustStore; it is read-only afterwards and safe for concurrent use.
type TrustStore struct {
	keys map[string]trusted
}

// FirstPartyPublisher is the publisher name of the built-in first-party
// key.
const FirstPartyPublisher = "junction"

// NewTrustStore returns a store holding keys and, when firstParty is not
// empty, the built-in first-party key trusted for every name.
func NewTrustStore(firstParty string, keys []TrustedKey) (*TrustStore, error) {
	ts := &TrustStore{keys: map[string]trusted{}}
	all := slices.Clone(keys)
	if firstParty != "" {
		all = append(all, TrustedKey{Publisher: FirstPartyPublisher, Key: firstParty, Connectors: []string{"*"}})
	}
	for _, k := range all {
		pub, err := ParsePublicKey(k.Key)
		if err != nil {
			return nil, fmt.Errorf("trusted key of %q: %w", k.Publisher, err)
		}
		for _, p := range k.Connectors {
			if err := CheckPattern(p); err != nil {
				return nil, fmt.Errorf("trusted key of %q: %w", k.Publisher, err)
			}
		}
		id := pub.KeyID()
		if prev, ok := ts.keys[id]; ok {
			if !slices.Equal(prev.pub, pub) {
				return nil, fmt.Errorf("trusted keys of %q and %q share key id %s", prev.Publisher, k.Publisher, id)
			}
			prev.Connectors = append(slices.Clone(prev.Connectors), k.Connectors...)
			ts.keys[id] = prev
			continue
		}
		ts.keys[id] = trusted{TrustedKey: k, pub: pub}
	}
	return ts, nil
}

// Key returns the trusted key with id, for index signatures, which any
// trusted key may make.
func (ts *TrustStore) Key(id string) (PublicKey, bool) {
	k, ok := ts.keys[id]
	return k.pub, ok
}

// Signer returns the key with id if it is trusted to sign connector name.
// Otherwise the error wraps ErrUntrusted and ErrVerify.
func (ts *TrustStore) Signer(id, name string) (PublicKey, string, error) {
	k, ok := ts.keys[id]
	if !ok {
		return nil, "", untrusted{fmt.Sprintf("%s is signed by key %s, which is not trusted (trust its publisher with: junction hub trust add PUBLISHER KEYFILE)", name, id)}
	}
	if !k.Allows(name) {
		return nil, "", untrusted{fmt.Sprintf("%s is signed by key %s of publisher %q, which is trusted only for %s, not for %s: signer not trusted for that name",
			name, id, k.Publisher, strings.Join(k.Connectors, ", "), name)}
	}
	return k.pub, k.Publisher, nil
}
