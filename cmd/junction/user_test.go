package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runCLIEnv(t *testing.T, env map[string]string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, args, strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
	return out.String(), errb.String(), code
}

func TestCLIUsersTokensLogin(t *testing.T) {
	addr := startBroker(t)
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgPath, []byte("catalogs:\n  - name: local\n    url: /tmp/catalog\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"JUNCTION_CONFIG": cfgPath}
	must := func(stdin string, args ...string) (string, string) {
		t.Helper()
		out, errs, code := runCLIEnv(t, env, stdin, args...)
		if code != 0 {
			t.Fatalf("junction %s: exit %d\n%s", strings.Join(args, " "), code, errs)
		}
		return out, errs
	}
	_, errs := must("s3cret-password\n", "--server", addr, "user", "create", "admin", "--role", "admin", "--password-stdin")
	if !strings.Contains(errs, "Authentication is now on") {
		t.Errorf("first user create did not say authentication is on: %q", errs)
	}
	if _, errs, code := runCLIEnv(t, nil, "", "--server", addr, "station", "list"); code != 1 || !strings.Contains(errs, "requires a token") {
		t.Fatalf("station list without a token: exit %d, %q", code, errs)
	}
	if _, errs, code := runCLIEnv(t, env, "wrong-password\n", "--server", addr, "login", "--user", "admin", "--password-stdin"); code != 1 || !strings.Contains(errs, "wrong user name or password") {
		t.Fatalf("login with a wrong password: exit %d, %q", code, errs)
	}
	out, _ := must("s3cret-password\n", "--server", addr, "login", "--user", "admin", "--password-stdin", "--name", "dev")
	if !strings.Contains(out, "logged in to") {
		t.Errorf("login: %q", out)
	}
	fi, err := os.Stat(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v, want 0600", fi.Mode().Perm())
	}
	cfg, _ := os.ReadFile(cfgPath)
	if !strings.Contains(string(cfg), "catalogs:") || !strings.Contains(string(cfg), "current_context: dev") || !strings.Contains(string(cfg), "token: jct_") {
		t.Errorf("config after login:\n%s", cfg)
	}
	// The current context supplies server and token.
	must("", "station", "create", "orders")
	must("", "user", "create", "bob", "--grant", "consume:orders:*", "--no-password")
	out, _ = must("", "user", "list")
	if !strings.Contains(out, "bob") || !strings.Contains(out, "consume:orders:*") {
		t.Errorf("user list:\n%s", out)
	}
	tok, _ := must("", "token", "create", "--user", "bob", "--ttl", "1d")
	tok = strings.TrimSpace(tok)
	if !strings.HasPrefix(tok, "jct_") {
		t.Fatalf("token create printed %q", tok)
	}
	if _, errs, code := runCLIEnv(t, nil, "x\n", "--server", addr, "--token", tok, "produce", "orders"); code != 1 || !strings.Contains(errs, "permission denied") {
		t.Fatalf("produce with bob's consume-only token: exit %d, %q", code, errs)
	}
	out, _ = must("", "token", "list", "--user", "bob", "-o", "json")
	var toks []struct {
		ID   string `json:"id"`
		User string `json:"user"`
	}
	if err := json.Unmarshal([]byte(out), &toks); err != nil || len(toks) != 1 || toks[0].User != "bob" {
		t.Fatalf("token list -o json: %v\n%s", err, out)
	}
	must("", "token", "revoke", toks[0].ID)
	if _, errs, code := runCLIEnv(t, nil, "", "--server", addr, "--token", tok, "group", "list", "orders"); code != 1 || !strings.Contains(errs, "revoked") {
		t.Fatalf("call with a revoked token: exit %d, %q", code, errs)
	}
	out, _ = must("", "user", "whoami")
	if !strings.Contains(out, "admin") {
		t.Errorf("whoami: %q", out)
	}
}
