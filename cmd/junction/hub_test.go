package main

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/junctionhq/junction/server"
)

// buildCommunity builds the test community connector at version ver.
func buildCommunity(t *testing.T, dir, ver string) string {
	t.Helper()
	out := filepath.Join(dir, ver, "community-lines")
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+ver, "-o", out, "../../catalog/testdata/community")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the community connector: %v\n%s", err, b)
	}
	return out
}

func treeOf(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err == nil {
			out = append(out, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func TestHubCommunityConnectorEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	tmp := t.TempDir()
	bins := filepath.Join(tmp, "bins")
	v1, v2 := buildCommunity(t, bins, "1.0.0"), buildCommunity(t, bins, "1.1.0")
	cfg := filepath.Join(tmp, "home", "config.yaml")
	catDir := filepath.Join(tmp, "catalog")
	plugins := filepath.Join(tmp, "plugins")
	data := filepath.Join(tmp, "data")
	key := filepath.Join(tmp, "keys", "community.key")

	ok := func(args ...string) (string, string) {
		t.Helper()
		out, errs, code := runCLI(t, "", args...)
		if code != 0 {
			t.Fatalf("junction %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
		}
		return out, errs
	}
	fails := func(want string, args ...string) {
		t.Helper()
		out, errs, code := runCLI(t, "", args...)
		if code != 1 || !strings.Contains(errs, want) {
			t.Fatalf("junction %s: exit %d, want 1 saying %q\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errs)
		}
	}

	pub, _ := ok("hub", "keygen", "--out", key)
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 || len(strings.TrimSpace(pub)) != 44 {
		t.Fatalf("keygen: %v %v %q", fi, err, pub)
	}
	_, errs := ok("hub", "publish", "--catalog", catDir, "--key", key, v1)
	if !strings.Contains(errs, "published community-lines@1.0.0") {
		t.Fatalf("publish: %s", errs)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(catDir)))
	defer srv.Close()
	hubArgs := func(args ...string) []string {
		return append(args, "--config", cfg, "--catalog", srv.URL, "--data", data)
	}

	// Nothing is trusted yet: the index itself is refused.
	fails("not trusted", hubArgs("hub", "search")...)
	ok("hub", "trust", "add", "community", key+".pub", "--config", cfg)
	out, _ := ok("hub", "trust", "list", "--config", cfg)
	if !strings.Contains(out, "community") || !strings.Contains(out, "community-*") {
		t.Fatalf("trust list:\n%s", out)
	}

	out, _ = ok(hubArgs("hub", "search", "lines")...)
	if !strings.Contains(out, "community-lines") || !strings.Contains(out, "1.0.0") || !strings.Contains(out, "Appends record values") {
		t.Fatalf("search:\n%s", out)
	}
	out, _ = ok(hubArgs("hub", "search", "nothing-like-this")...)
	if strings.Contains(out, "community-lines") {
		t.Fatalf("search for another term:\n%s", out)
	}
	out, _ = ok(hubArgs("hub", "info", "community-lines")...)
	for _, want := range []string{"Appends record values", "sink", "MIT", "1.0.0", "path", "string", "yes", "File the values are appended to", "trusted, publisher community"} {
		if !strings.Contains(out, want) {
			t.Fatalf("info lacks %q:\n%s", want, out)
		}
	}

	// Trusted, but not for this name: refused, nothing installed.
	ok("hub", "trust", "remove", "community", "--config", cfg)
	ok("hub", "trust", "add", "community", key+".pub", "--for", "other-*", "--config", cfg)
	os.MkdirAll(plugins, 0o755)
	fails("signer not trusted for that name", hubArgs("hub", "install", "community-lines", "--plugins", plugins)...)
	if tree := treeOf(t, plugins); tree != "" {
		t.Fatalf("plugin dir after a refused install:\n%s", tree)
	}
	ok("hub", "trust", "add", "community", key+".pub", "--config", cfg)

	_, errs = ok(hubArgs("hub", "install", "community-lines@^1", "--plugins", plugins)...)
	if !strings.Contains(errs, "installed community-lines@1.0.0") {
		t.Fatalf("install: %s", errs)
	}
	if _, err := os.Stat(filepath.Join(plugins, "community-lines", "1.0.0", "community-lines")); err != nil {
		t.Fatal(err)
	}
	out, _ = ok(hubArgs("hub", "list", "--plugins", plugins)...)
	if !strings.Contains(out, "community-lines  1.0.0") || strings.Contains(out, "update available") {
		t.Fatalf("list:\n%s", out)
	}

	ok("hub", "publish", "--catalog", catDir, "--key", key, v2)
	out, _ = ok(hubArgs("hub", "list", "--plugins", plugins)...)
	if !strings.Contains(out, "update available: 1.1.0") {
		t.Fatalf("list after 1.1.0 was published:\n%s", out)
	}
	_, errs = ok(hubArgs("hub", "upgrade", "--plugins", plugins)...)
	if !strings.Contains(errs, "installed community-lines@1.1.0") {
		t.Fatalf("upgrade: %s", errs)
	}
	_, errs = ok(hubArgs("hub", "upgrade", "community-lines", "--plugins", plugins)...)
	if !strings.Contains(errs, "up to date (1.1.0)") {
		t.Fatalf("second upgrade: %s", errs)
	}

	// Run it from a connector definition: ^1.0 resolves to 1.1.0 among the
	// installed versions.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srvB, err := server.Start(context.Background(), server.Options{DataDir: filepath.Join(tmp, "broker"), PluginDirs: []string{plugins},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, ln)
	if err != nil {
		t.Fatal(err)
	}
	defer srvB.Close()
	addr := ln.Addr().String()
	sinkFile := filepath.Join(tmp, "values.txt")
	def := filepath.Join(tmp, "lines.yaml")
	os.WriteFile(def, []byte("name: lines\nconnector: community-lines@^1.0\nkind: sink\nstation: orders\nbatch: {max_wait: 10ms}\nconfig:\n  path: "+sinkFile+"\n"), 0o644)
	cli(t, addr, "", "station", "create", "orders")
	_, errs = cli(t, addr, "", "connector", "apply", "-f", def)
	if !strings.Contains(errs, "plugin community-lines@1.1.0") {
		t.Fatalf("apply: %s", errs)
	}
	cli(t, addr, "a\nb\nc\n", "produce", "orders")
	waitFor(t, "the community sink to write 3 values", func() bool {
		b, _ := os.ReadFile(sinkFile)
		return string(b) == "a\nb\nc\n"
	})

	// Removal asks the broker; it refuses while a connector uses the plugin,
	// and when no broker can be asked, unless --force.
	fails("used by connector(s) lines", "hub", "remove", "community-lines@1.1.0", "--plugins", plugins, "--server", addr)
	_, errs = ok("hub", "remove", "community-lines@1.0.0", "--plugins", plugins, "--server", addr)
	if !strings.Contains(errs, "removed community-lines@1.0.0") {
		t.Fatalf("remove unused version: %s", errs)
	}
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	fails("no broker reachable", "hub", "remove", "community-lines", "--plugins", plugins, "--server", deadAddr)
	_, errs = ok("hub", "remove", "community-lines", "--plugins", plugins, "--server", deadAddr, "--force")
	if !strings.Contains(errs, "removed community-lines@1.1.0") {
		t.Fatalf("forced remove: %s", errs)
	}
	if tree := treeOf(t, plugins); tree != "" {
		t.Fatalf("plugin dir after removing everything:\n%s", tree)
	}
}

func TestHubPublishYankAndUsage(t *testing.T) {
	tmp := t.TempDir()
	key := filepath.Join(tmp, "k")
	_, _, code := runCLI(t, "", "hub", "keygen", "--out", key)
	if code != 0 {
		t.Fatal("keygen")
	}
	if _, errs, code := runCLI(t, "", "hub", "keygen", "--out", key); code != 1 || !strings.Contains(errs, "exists") {
		t.Fatalf("keygen over an existing key: %d %s", code, errs)
	}
	if _, errs, code := runCLI(t, "", "hub", "publish", "--catalog", tmp); code != 2 || !strings.Contains(errs, "--key") {
		t.Fatalf("publish without key: %d %s", code, errs)
	}
	if _, errs, code := runCLI(t, "", "hub", "install", "Bad_Name", "--config", filepath.Join(tmp, "c.yaml")); code != 2 || !strings.Contains(errs, "lower case") {
		t.Fatalf("install bad name: %d %s", code, errs)
	}
	if _, errs, code := runCLI(t, "", "hub", "search"); code != 1 || !strings.Contains(errs, "--config") {
		t.Fatalf("no HOME and no --config: %d %s", code, errs)
	}
	if _, errs, code := runCLI(t, "", "hub", "trust", "add", "acme", key, "--config", filepath.Join(tmp, "c.yaml")); code != 1 || !strings.Contains(errs, "private key") {
		t.Fatalf("trusting a private key file: %d %s", code, errs)
	}
}
