package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHubTrustExpiryAndRevoke(t *testing.T) {
	tmp := t.TempDir()
	key, cfg := filepath.Join(tmp, "acme.key"), filepath.Join(tmp, "config.yaml")
	ok := func(args ...string) string {
		t.Helper()
		out, errs, code := runCLI(t, "", args...)
		if code != 0 {
			t.Fatalf("junction %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		return out
	}
	ok("hub", "keygen", "--out", key)
	ok("hub", "trust", "add", "acme", key+".pub", "--expires", "2020-01-01", "--config", cfg)
	if out := ok("hub", "trust", "list", "--config", cfg); !strings.Contains(out, "expired") {
		t.Fatalf("trust list after an expired add:\n%s", out)
	}
	ok("hub", "trust", "add", "acme", key+".pub", "--expires", "365d", "--config", cfg)
	if out := ok("hub", "trust", "list", "--config", cfg); !strings.Contains(out, "trusted") {
		t.Fatalf("trust list after extending:\n%s", out)
	}
	ok("hub", "trust", "revoke", "acme", "--reason", "key leaked", "--config", cfg)
	if out := ok("hub", "trust", "list", "--config", cfg); !strings.Contains(out, "revoked") {
		t.Fatalf("trust list after revoke:\n%s", out)
	}
	b, _ := os.ReadFile(cfg)
	if !strings.Contains(string(b), "revoked_at:") || !strings.Contains(string(b), "key leaked") {
		t.Fatalf("config after revoke:\n%s", b)
	}
	if _, errs, code := runCLI(t, "", "hub", "trust", "revoke", "nobody", "--config", cfg); code != 1 || !strings.Contains(errs, "no trusted key") {
		t.Fatalf("revoke of an unknown publisher: exit %d %s", code, errs)
	}
}
