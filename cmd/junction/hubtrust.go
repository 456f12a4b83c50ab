package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/catalog"
	"github.com/junctionhq/junction/internal/buildinfo"
)

// trustRevokeCmd revokes trusted publisher keys: nothing they signed is
// accepted any more. The entry stays in the config, marked, so the key
// cannot be trusted again by mistake; the built-in first-party key is
// revoked by adding such an entry for it.
func (h *hub) trustRevokeCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke PUBLISHER|KEYID",
		Short: "Revoke a publisher's keys (or one key): nothing they signed is accepted",
		Long: `Revoke every trusted key of PUBLISHER, or the key with KEYID (as 'junction hub
trust list' shows it; the built-in first-party key too). Connectors and
catalog indexes signed by a revoked key are refused from then on, whenever
they were signed; installed plugins are checked again on upgrade.`,
		Example: `  junction hub trust revoke acme --reason "key leaked"
  junction hub trust revoke 3f2a9c0d1e4b5a67`,
		Args: exactArgs("PUBLISHER|KEYID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, path, err := h.config()
			if err != nil {
				return err
			}
			now := time.Now().UTC().Truncate(time.Second)
			n := 0
			for i, k := range cfg.TrustedKeys {
				pk, err := catalog.ParsePublicKey(k.Key)
				if err != nil {
					continue
				}
				if k.Publisher == args[0] || pk.KeyID() == args[0] {
					cfg.TrustedKeys[i].RevokedAt, cfg.TrustedKeys[i].RevokeReason = now, reason
					n++
				}
			}
			if fp, err := catalog.ParsePublicKey(buildinfo.FirstPartyKey); err == nil && fp.KeyID() == args[0] {
				cfg.TrustedKeys = append(cfg.TrustedKeys, catalog.TrustedKey{Publisher: catalog.FirstPartyPublisher, Key: buildinfo.FirstPartyKey,
					Connectors: []string{"*"}, RevokedAt: now, RevokeReason: reason})
				n++
			}
			if n == 0 {
				return fmt.Errorf("%w: no trusted key of publisher or with id %q", catalog.ErrNotFound, args[0])
			}
			if err := cfg.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(h.a.stderr, "revoked %d key(s) of %s (in %s)\n", n, args[0], path)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, shown when something it signed is refused")
	return cmd
}

// expiresFlag is a pflag.Value for an expiry: an RFC 3339 time, a date
// (YYYY-MM-DD, midnight UTC), or a duration from now (90d).
type expiresFlag struct{ v time.Time }

func (f *expiresFlag) String() string {
	if f.v.IsZero() {
		return ""
	}
	return f.v.Format(time.RFC3339)
}

func (f *expiresFlag) Set(s string) error {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		f.v = t
		return nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		f.v = t
		return nil
	}
	var d durationFlag
	if err := d.Set(s); err == nil && d.v > 0 {
		f.v = time.Now().UTC().Add(d.v).Truncate(time.Second)
		return nil
	}
	return fmt.Errorf("want a time (2027-01-31 or RFC 3339) or a duration from now (90d), got %q", s)
}

func (f *expiresFlag) Type() string { return "time" }
