package catalog

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTrustedKeyRevocationAndExpiry(t *testing.T) {
	k := testKey(t, 3).Public()
	id := k.KeyID()
	base := TrustedKey{Publisher: "acme", Key: k.String(), Connectors: []string{"acme-*"}}
	cases := []struct {
		name string
		keys []TrustedKey
		want string // "" when trusted
	}{
		{"trusted", []TrustedKey{base}, ""},
		{"expires later", []TrustedKey{withExpiry(base, time.Now().Add(time.Hour))}, ""},
		{"expired", []TrustedKey{withExpiry(base, time.Now().Add(-time.Hour))}, "which expired on"},
		{"revoked", []TrustedKey{withRevocation(base, "key leaked")}, "which was revoked on"},
		// A second entry for the same key revokes it everywhere, which is
		// how the built-in first-party key is revoked.
		{"revoked by another entry", []TrustedKey{base, withRevocation(TrustedKey{Publisher: "acme", Key: k.String(), Connectors: []string{"acme"}}, "")}, "revoked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts, err := NewTrustStore("", c.keys)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = ts.Signer(id, "acme-s3")
			_, indexOK := ts.Key(id)
			if c.want == "" {
				if err != nil || !indexOK {
					t.Fatalf("trusted key refused: %v, index key %v", err, indexOK)
				}
				return
			}
			if !errors.Is(err, ErrUntrusted) || !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Signer: %v, want ErrUntrusted saying %q", err, c.want)
			}
			if indexOK {
				t.Fatal("a revoked or expired key still signs indexes")
			}
		})
	}
}

func withExpiry(k TrustedKey, at time.Time) TrustedKey {
	k.Expires = at
	return k
}

func withRevocation(k TrustedKey, reason string) TrustedKey {
	k.RevokedAt, k.RevokeReason = time.Now(), reason
	return k
}

func TestInstallRefusesRevokedKey(t *testing.T) {
	f := newFixture(t, testSpec("test-sink", "1.0.0"))
	f.trust[0] = withRevocation(f.trust[0], "compromised")
	_, err := f.install("test-sink")
	if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "which was revoked on") || !strings.Contains(err.Error(), "compromised") {
		t.Fatalf("install signed by a revoked key: %v", err)
	}
}
