package catalog

import (
	"fmt"
	"slices"
	"strings"
	"time"
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
	// Expires, when set, is when the key stops being trusted: signatures
	// checked after it are refused.
	Expires time.Time `yaml:"expires,omitempty" json:"expires,omitzero"`
	// RevokedAt, when set, marks the key revoked: nothing it signed is
	// accepted any more, whenever it was signed. An entry revoking the
	// built-in first-party key revokes that too.
	RevokedAt time.Time `yaml:"revoked_at,omitempty" json:"revoked_at,omitzero"`
	// RevokeReason says why, for messages.
	RevokeReason string `yaml:"revoke_reason,omitempty" json:"revoke_reason,omitempty"`
}

// Status says whether the key is usable at now: "trusted", "expired" or
// "revoked".
func (k TrustedKey) Status(now time.Time) string {
	switch {
	case !k.RevokedAt.IsZero():
		return "revoked"
	case !k.Expires.IsZero() && !now.Before(k.Expires):
		return "expired"
	}
	return "trusted"
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
	now  func() time.Time
}

// FirstPartyPublisher is the publisher name of the built-in first-party
// key.
const FirstPartyPublisher = "junction"

// NewTrustStore returns a store holding keys and, when firstParty is not
// empty, the built-in first-party key trusted for every name.
func NewTrustStore(firstParty string, keys []TrustedKey) (*TrustStore, error) {
	ts := &TrustStore{keys: map[string]trusted{}, now: time.Now}
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
			// The strictest entry wins: a revocation or an earlier expiry
			// of the same key anywhere applies to it everywhere.
			if prev.RevokedAt.IsZero() && !k.RevokedAt.IsZero() {
				prev.RevokedAt, prev.RevokeReason = k.RevokedAt, k.RevokeReason
			}
			if !k.Expires.IsZero() && (prev.Expires.IsZero() || k.Expires.Before(prev.Expires)) {
				prev.Expires = k.Expires
			}
			ts.keys[id] = prev
			continue
		}
		ts.keys[id] = trusted{TrustedKey: k, pub: pub}
	}
	return ts, nil
}

// Key returns the trusted key with id, for index signatures, which any
// trusted key may make. A revoked or expired key is not returned.
func (ts *TrustStore) Key(id string) (PublicKey, bool) {
	k, ok := ts.keys[id]
	if !ok || k.Status(ts.now()) != "trusted" {
		return nil, false
	}
	return k.pub, true
}

// Usable returns an error wrapping ErrUntrusted when the key with id is
// trusted but revoked or expired, naming what (such as "index") it signed;
// nil otherwise.
func (ts *TrustStore) Usable(id, what string) error {
	k, ok := ts.keys[id]
	if !ok {
		return nil
	}
	return ts.usable(k, id, what)
}

// usable returns an error wrapping ErrUntrusted when k is revoked or
// expired.
func (ts *TrustStore) usable(k trusted, id, name string) error {
	switch k.Status(ts.now()) {
	case "revoked":
		reason := ""
		if k.RevokeReason != "" {
			reason = " (" + k.RevokeReason + ")"
		}
		return untrusted{fmt.Sprintf("%s is signed by key %s of publisher %q, which was revoked on %s%s", name, id, k.Publisher, k.RevokedAt.UTC().Format(time.DateOnly), reason)}
	case "expired":
		return untrusted{fmt.Sprintf("%s is signed by key %s of publisher %q, which expired on %s (trust its new key, or extend with junction hub trust add --expires)",
			name, id, k.Publisher, k.Expires.UTC().Format(time.RFC3339))}
	}
	return nil
}

// Signer returns the key with id if it is trusted to sign connector name.
// Otherwise the error wraps ErrUntrusted and ErrVerify.
func (ts *TrustStore) Signer(id, name string) (PublicKey, string, error) {
	k, ok := ts.keys[id]
	if !ok {
		return nil, "", untrusted{fmt.Sprintf("%s is signed by key %s, which is not trusted (trust its publisher with: junction hub trust add PUBLISHER KEYFILE)", name, id)}
	}
	if err := ts.usable(k, id, name); err != nil {
		return nil, "", err
	}
	if !k.Allows(name) {
		return nil, "", untrusted{fmt.Sprintf("%s is signed by key %s of publisher %q, which is trusted only for %s, not for %s: signer not trusted for that name",
			name, id, k.Publisher, strings.Join(k.Connectors, ", "), name)}
	}
	return k.pub, k.Publisher, nil
}
