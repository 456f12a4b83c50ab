package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestHubCatalogCommandsKeepOtherKeys(t *testing.T) {
	tmp := t.TempDir()
	cfg := filepath.Join(tmp, "config.yaml")
	os.WriteFile(cfg, []byte("contexts:\n  - name: prod\n    server: prod:7400\n"), 0o600)
	key := filepath.Join(tmp, "k")
	runCLI(t, "", "hub", "keygen", "--out", key)
	ok := func(args ...string) string {
		t.Helper()
		out, errs, code := runCLI(t, "", append(args, "--config", cfg)...)
		if code != 0 {
			t.Fatalf("junction %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		return out
	}
	ok("hub", "catalog", "add", "community", "https://catalog.example.com/")
	ok("hub", "catalog", "add", "local", "./cat", "--key", key+".pub")
	if _, errs, code := runCLI(t, "", "hub", "catalog", "add", "local", "/x", "--config", cfg); code != 1 || !strings.Contains(errs, "already configured") {
		t.Fatalf("adding a name twice: %d %s", code, errs)
	}
	var rows []struct{ Name, URL, Key string }
	if err := json.Unmarshal([]byte(ok("hub", "catalog", "list", "-o", "json")), &rows); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if len(rows) != 2 || rows[0].Name != "community" || rows[1].URL != filepath.Join(wd, "cat") || rows[1].Key == "" {
		t.Fatalf("catalog list: %+v", rows)
	}
	ok("hub", "catalog", "remove", "community")
	out := ok("hub", "catalog", "list")
	if strings.Contains(out, "community") || !strings.Contains(out, "local") {
		t.Fatalf("after remove:\n%s", out)
	}
	b, _ := os.ReadFile(cfg)
	if !strings.Contains(string(b), "server: prod:7400") {
		t.Fatalf("the config lost its other keys:\n%s", b)
	}
}

// TestHubRemembersTheCatalog installs from --catalog DIR and then lists and
// upgrades with no --catalog at all.
func TestHubRemembersTheCatalog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	tmp := t.TempDir()
	bins := filepath.Join(tmp, "bins")
	v1, v2 := buildCommunity(t, bins, "1.0.0"), buildCommunity(t, bins, "1.1.0")
	cfg := filepath.Join(tmp, "config.yaml")
	catDir := filepath.Join(tmp, "catalog")
	plugins := filepath.Join(tmp, "plugins")
	key := filepath.Join(tmp, "keys", "k.key")
	ok := func(args ...string) (string, string) {
		t.Helper()
		out, errs, code := runCLI(t, "", args...)
		if code != 0 {
			t.Fatalf("junction %s: exit %d\nstderr: %s", strings.Join(args, " "), code, errs)
		}
		return out, errs
	}
	ok("hub", "keygen", "--out", key)
	ok("hub", "publish", "--catalog", catDir, "--key", key, v1)
	ok("hub", "trust", "add", "community", key+".pub", "--config", cfg)
	ok("hub", "install", "community-lines", "--catalog", catDir, "--plugins", plugins, "--config", cfg)
	ok("hub", "publish", "--catalog", catDir, "--key", key, v2)

	out, _ := ok("hub", "list", "--plugins", plugins, "--config", cfg)
	if !strings.Contains(out, "update available: 1.1.0") || !strings.Contains(out, catDir) {
		t.Fatalf("list without --catalog:\n%s", out)
	}
	_, errs := ok("hub", "upgrade", "--plugins", plugins, "--config", cfg)
	if !strings.Contains(errs, "installed community-lines@1.1.0") {
		t.Fatalf("upgrade without --catalog: %s", errs)
	}
}

func TestHubRemoveAPluginPlacedByHand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	tmp := t.TempDir()
	plugins := filepath.Join(tmp, "plugins")
	os.MkdirAll(plugins, 0o755)
	bin := buildCommunity(t, filepath.Join(tmp, "bins"), "1.0.0")
	b, _ := os.ReadFile(bin)
	os.WriteFile(filepath.Join(plugins, "community-lines"), b, 0o755)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	_, errs, code := runCLI(t, "", "hub", "remove", "community-lines", "--plugins", plugins, "--server", deadAddr, "--force")
	if code != 0 || !strings.Contains(errs, "removed community-lines@1.0.0") {
		t.Fatalf("remove: exit %d: %s", code, errs)
	}
	if tree := treeOf(t, plugins); tree != "" {
		t.Fatalf("plugin dir after remove:\n%s", tree)
	}
}

func TestHubKeysStayOutOfWorkTrees(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	home := t.TempDir()
	env := map[string]string{"HOME": home}
	_, errs, code := runCLIEnv(t, env, "", "hub", "keygen")
	key := filepath.Join(home, ".junction", "keys", "publisher.key")
	if code != 0 || strings.Contains(errs, "warning") {
		t.Fatalf("keygen: exit %d: %s", code, errs)
	}
	fi, err := os.Stat(key)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("default key: %v %v", fi, err)
	}
	if di, _ := os.Stat(filepath.Dir(key)); di.Mode().Perm() != 0o700 {
		t.Fatalf("key directory mode %v", di.Mode().Perm())
	}

	repo := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	os.WriteFile(filepath.Join(repo, ".gitignore"), []byte("/dist/\n"), 0o644)
	_, errs, _ = runCLIEnv(t, env, "", "hub", "keygen", "--out", filepath.Join(repo, "acme.key"))
	if !strings.Contains(errs, "inside the git work tree") {
		t.Fatalf("a key in a work tree: %s", errs)
	}
	_, errs, _ = runCLIEnv(t, env, "", "hub", "keygen", "--out", filepath.Join(repo, "dist", "keys", "first-party.key"))
	if strings.Contains(errs, "warning") {
		t.Fatalf("a key in an ignored path: %s", errs)
	}
	// publish finds the default key: it gets as far as the catalog.
	_, errs, code = runCLIEnv(t, env, "", "hub", "publish", "--catalog", filepath.Join(t.TempDir(), "c"), "--yank", "x@1.0.0")
	if code != 1 || strings.Contains(errs, "private key") || strings.Contains(errs, "--key") {
		t.Fatalf("publish with the default key: exit %d: %s", code, errs)
	}
	_, errs, code = runCLIEnv(t, map[string]string{"HOME": t.TempDir()}, "", "hub", "publish", "--catalog", "c", "--yank", "x@1.0.0")
	if code != 1 || !strings.Contains(errs, "junction hub keygen") {
		t.Fatalf("publish without a key: exit %d: %s", code, errs)
	}
}
