package catalog

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/sdk/connector"
)

var update = flag.Bool("update", false, "rewrite golden files")

func testKey(t testing.TB, b byte) PrivateKey {
	t.Helper()
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = b + byte(i)
	}
	k, err := NewPrivateKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testSpec(name, ver string) connector.Spec {
	return connector.Spec{
		Name: name, Version: ver, Description: "Test connector " + name + ".", License: "MIT",
		Kinds:           []connector.Kind{connector.KindSink},
		Fields:          []connector.Field{{Name: "path", Type: connector.TypeString, Required: true, Doc: "File to append to."}},
		ProtocolVersion: connector.ProtocolVersion,
	}
}

// scriptPlugin writes an executable that answers --spec like a plugin
// called name@ver, claiming to be spec (for a lying plugin).
func scriptPlugin(t testing.TB, dir string, spec connector.Spec) string {
	t.Helper()
	js, _ := json.Marshal(spec)
	path := filepath.Join(dir, spec.Name+"-"+spec.Version)
	body := fmt.Sprintf("#!/bin/sh\n# %s padding %s\ncat <<'JSON'\n%s\nJSON\n", spec.Name, strings.Repeat("x", 4096), js)
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

type fixture struct {
	t        *testing.T
	key      PrivateKey
	catDir   string
	srv      *httptest.Server
	plugins  string
	trust    []TrustedKey
	now      time.Time
	handlers map[string]http.HandlerFunc
}

// newFixture publishes name@versions as script plugins into a catalog
// served over HTTP on 127.0.0.1, trusted for "test-*".
func newFixture(t *testing.T, releases ...connector.Spec) *fixture {
	t.Helper()
	f := &fixture{t: t, key: testKey(t, 1), catDir: t.TempDir(), plugins: filepath.Join(t.TempDir(), "plugins"),
		now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), handlers: map[string]http.HandlerFunc{}}
	f.trust = []TrustedKey{{Publisher: "test", Key: f.key.Public().String(), Connectors: []string{"test-*"}}}
	bins := t.TempDir()
	var paths []string
	for _, s := range releases {
		paths = append(paths, scriptPlugin(t, bins, s))
	}
	p := &Publisher{Dir: f.catDir, Key: f.key, Now: func() time.Time { return f.now }}
	if _, err := p.Publish(context.Background(), paths); err != nil {
		t.Fatal(err)
	}
	files := http.FileServer(http.Dir(f.catDir))
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := f.handlers[r.URL.Path]; h != nil {
			h(w, r)
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// edit rewrites the index through fn and signs it again with the catalog
// key, so only what fn changed is wrong.
func (f *fixture) edit(fn func(ix *Index)) {
	f.t.Helper()
	data, err := os.ReadFile(filepath.Join(f.catDir, "index.json"))
	if err != nil {
		f.t.Fatal(err)
	}
	var ix Index
	if err := json.Unmarshal(data, &ix); err != nil {
		f.t.Fatal(err)
	}
	fn(&ix)
	out, err := json.MarshalIndent(&ix, "", "  ")
	if err != nil {
		f.t.Fatal(err)
	}
	os.WriteFile(filepath.Join(f.catDir, "index.json"), out, 0o644)
	os.WriteFile(filepath.Join(f.catDir, "index.json.sig"), SignIndex(f.key, out), 0o644)
}

func (f *fixture) installer() (*Installer, error) {
	ts, err := NewTrustStore("", f.trust)
	if err != nil {
		return nil, err
	}
	l := &Loader{Trust: ts, CacheDir: filepath.Join(f.t.TempDir(), "cache")}
	c, err := l.Load(context.Background(), Source{Name: "test", Location: f.srv.URL})
	if err != nil {
		return nil, err
	}
	return &Installer{Catalogs: []*Catalog{c}, Trust: ts, Dir: f.plugins}, nil
}

func (f *fixture) install(ref string) (string, error) {
	in, err := f.installer()
	if err != nil {
		return "", err
	}
	name, cons, _ := strings.Cut(ref, "@")
	c, err := in.Resolve(name, cons)
	if err != nil {
		return "", err
	}
	path, _, err := in.Install(context.Background(), c)
	return path, err
}

// snapshot lists every file and directory under dir.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			out = append(out, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func TestHubInstallFromHTTPCatalog(t *testing.T) {
	f := newFixture(t, testSpec("test-sink", "1.0.0"), testSpec("test-sink", "1.1.0"), testSpec("test-sink", "2.0.0"))
	path, err := f.install("test-sink@^1")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(f.plugins, "test-sink", "1.1.0", "test-sink"); path != want {
		t.Fatalf("installed at %s, want %s", path, want)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("installed file: %v %v", fi, err)
	}
	got, _ := InstalledVersions(f.plugins, "test-sink")
	if len(got) != 1 || got[0] != "1.1.0" {
		t.Fatalf("installed versions %v", got)
	}
	// Installing again is a no-op.
	in, _ := f.installer()
	c, _ := in.Resolve("test-sink", "1.1.0")
	if _, already, err := in.Install(context.Background(), c); err != nil || !already {
		t.Fatalf("reinstall: already=%v err=%v", already, err)
	}
	if _, err := f.install("test-sink"); err != nil {
		t.Fatal(err)
	}
	if got, _ := InstalledVersions(f.plugins, "test-sink"); strings.Join(got, ",") != "2.0.0,1.1.0" {
		t.Fatalf("installed versions %v", got)
	}
	if rm, err := Remove(f.plugins, "test-sink", "1.1.0"); err != nil || len(rm) != 1 {
		t.Fatalf("remove: %v %v", rm, err)
	}
	if rm, err := Remove(f.plugins, "test-sink", ""); err != nil || len(rm) != 1 {
		t.Fatalf("remove all: %v %v", rm, err)
	}
	if s := snapshot(t, f.plugins); s != "" {
		t.Fatalf("plugin dir after removing everything:\n%s", s)
	}
}

func TestHubOfflineUsesVerifiedCache(t *testing.T) {
	f := newFixture(t, testSpec("test-sink", "1.0.0"))
	ts, _ := NewTrustStore("", f.trust)
	cache := t.TempDir()
	l := &Loader{Trust: ts, CacheDir: cache}
	if _, err := l.Load(context.Background(), Source{Name: "t", Location: f.srv.URL}); err != nil {
		t.Fatal(err)
	}
	f.srv.Close()
	l.Offline = true
	c, err := l.Load(context.Background(), Source{Name: "t", Location: f.srv.URL})
	if err != nil || c.Index.Lookup("test-sink") == nil {
		t.Fatalf("offline load: %v", err)
	}
	// A tampered cache is refused like a tampered catalog.
	matches, _ := filepath.Glob(filepath.Join(cache, "*", "index.json"))
	data, _ := os.ReadFile(matches[0])
	os.WriteFile(matches[0], []byte(strings.Replace(string(data), "Test connector", "Evil connector", 1)), 0o644)
	if _, err := l.Load(context.Background(), Source{Name: "t", Location: f.srv.URL}); !errors.Is(err, ErrVerify) {
		t.Fatalf("tampered cache: %v", err)
	}
}

func TestHubRefusals(t *testing.T) {
	other := testKey(t, 100)
	resignArtifact := func(ix *Index, k PrivateKey) {
		for ci := range ix.Connectors {
			c := &ix.Connectors[ci]
			for ri := range c.Versions {
				r := &c.Versions[ri]
				for p, a := range r.Platforms {
					a.Signature = base64.StdEncoding.EncodeToString(k.Sign(ArtifactMessage(c.Name, r.Version, p, a.SHA256, a.Size)))
					r.Platforms[p] = a
				}
			}
		}
	}
	artifact := func(f *fixture) string {
		return filepath.Join(f.catDir, "artifacts", "test-sink", "1.0.0", strings.ReplaceAll(Platform(), "/", "-"), "test-sink")
	}
	cases := []struct {
		name  string
		ref   string
		setup func(f *fixture)
		is    error
		msg   string
	}{
		{"tampered artifact", "", func(f *fixture) {
			b, _ := os.ReadFile(artifact(f))
			b[len(b)/2] ^= 1
			os.WriteFile(artifact(f), b, 0o755)
		}, ErrVerify, "sha256"},
		{"wrong signature", "", func(f *fixture) { f.edit(func(ix *Index) { resignArtifact(ix, other) }) }, ErrVerify, "artifact signature"},
		{"missing signature", "", func(f *fixture) {
			f.edit(func(ix *Index) {
				for p, a := range ix.Connectors[0].Versions[0].Platforms {
					a.Signature = ""
					ix.Connectors[0].Versions[0].Platforms[p] = a
				}
			})
		}, ErrVerify, "signature: want base64"},
		{"signature for another size", "", func(f *fixture) {
			f.edit(func(ix *Index) {
				for p, a := range ix.Connectors[0].Versions[0].Platforms {
					a.Size++
					ix.Connectors[0].Versions[0].Platforms[p] = a
				}
			})
		}, ErrVerify, "bad signature"},
		{"signer not trusted for that name", "", func(f *fixture) { f.trust[0].Connectors = []string{"acme-*"} }, ErrUntrusted, "signer not trusted for that name"},
		{"signer not trusted at all", "", func(f *fixture) {
			f.trust = append(f.trust, TrustedKey{Publisher: "other", Key: other.Public().String(), Connectors: []string{"*"}})
			f.edit(func(ix *Index) { resignArtifact(ix, other); ix.Connectors[0].Publisher = other.Public().KeyID() })
			f.trust = f.trust[1:]
			// The index is signed by f.key, still trusted for test-*
			// only; trust it for the index but not for the artifact.
			f.trust[0] = TrustedKey{Publisher: "test", Key: f.key.Public().String(), Connectors: []string{"test-*"}}
		}, ErrUntrusted, "not trusted"},
		{"tampered index", "", func(f *fixture) {
			p := filepath.Join(f.catDir, "index.json")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(b), `"1.0.0"`, `"1.0.1"`, 1)), 0o644)
		}, ErrVerify, "does not match its signature"},
		{"index signed by untrusted key", "", func(f *fixture) {
			b, _ := os.ReadFile(filepath.Join(f.catDir, "index.json"))
			os.WriteFile(filepath.Join(f.catDir, "index.json.sig"), SignIndex(other, b), 0o644)
		}, ErrUntrusted, "not trusted"},
		{"missing index signature", "", func(f *fixture) { os.Remove(filepath.Join(f.catDir, "index.json.sig")) }, nil, "404"},
		{"yanked", "", func(f *fixture) {
			f.edit(func(ix *Index) {
				ix.Connectors[0].Versions[0].Yanked, ix.Connectors[0].Versions[0].YankReason = true, "eats data"
			})
		}, ErrYanked, "eats data"},
		{"yanked with a range", "test-sink@^1", func(f *fixture) {
			f.edit(func(ix *Index) { ix.Connectors[0].Versions[0].Yanked = true })
		}, ErrYanked, "pin it exactly"},
		{"incompatible junction", "", func(f *fixture) {
			f.edit(func(ix *Index) { ix.Connectors[0].Versions[0].MinJunction = "99.0.0" })
		}, ErrIncompatible, "needs Junction 99.0.0"},
		{"incompatible protocol", "", func(f *fixture) {
			f.edit(func(ix *Index) {
				ix.Connectors[0].Versions[0].ProtocolVersion = 99
				ix.Connectors[0].Versions[0].Spec.ProtocolVersion = 99
			})
		}, ErrIncompatible, "protocol 99"},
		{"no build for this platform", "", func(f *fixture) {
			f.edit(func(ix *Index) {
				r := &ix.Connectors[0].Versions[0]
				r.Platforms = map[string]Artifact{"plan9/mips": r.Platforms[Platform()]}
				resignArtifact(ix, f.key)
			})
		}, ErrNoPlatform, "no build for " + Platform()},
		{"truncated download", "", func(f *fixture) {
			b, _ := os.ReadFile(artifact(f))
			os.WriteFile(artifact(f), b[:len(b)/2], 0o755)
		}, ErrVerify, "bytes, the index says"},
		{"server error mid-download", "", func(f *fixture) {
			b, _ := os.ReadFile(artifact(f))
			rel := "/" + strings.TrimPrefix(filepath.ToSlash(artifact(f)), filepath.ToSlash(f.catDir)+"/")
			f.handlers[rel] = func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", fmt.Sprint(len(b)))
				w.WriteHeader(200)
				w.Write(b[:len(b)/2])
				w.(http.Flusher).Flush()
				conn, buf, err := w.(http.Hijacker).Hijack()
				if err == nil {
					buf.Flush()
					conn.(*net.TCPConn).SetLinger(0)
					conn.Close()
				}
			}
		}, ErrVerify, "after"},
		{"server error status", "", func(f *fixture) {
			rel := "/" + strings.TrimPrefix(filepath.ToSlash(artifact(f)), filepath.ToSlash(f.catDir)+"/")
			f.handlers[rel] = func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }
		}, nil, "500"},
		{"plugin lies about its name", "", func(f *fixture) {
			liar := scriptPlugin(t, t.TempDir(), testSpec("test-other", "1.0.0"))
			b, _ := os.ReadFile(liar)
			os.WriteFile(artifact(f), b, 0o755)
			f.edit(func(ix *Index) {
				a := ix.Connectors[0].Versions[0].Platforms[Platform()]
				a.SHA256, _ = fileSHA256(artifact(f))
				a.Size = int64(len(b))
				ix.Connectors[0].Versions[0].Platforms[Platform()] = a
				resignArtifact(ix, f.key)
			})
		}, ErrVerify, "says it is test-other@1.0.0"},
		{"traversal in url", "", func(f *fixture) {
			f.edit(func(ix *Index) { setURL(ix, "../../../etc/passwd"); resignArtifact(ix, f.key) })
		}, ErrVerify, ".. element"},
		{"absolute path url", "", func(f *fixture) {
			f.edit(func(ix *Index) { setURL(ix, "/etc/passwd"); resignArtifact(ix, f.key) })
		}, ErrVerify, "absolute path"},
		{"file url", "", func(f *fixture) {
			f.edit(func(ix *Index) { setURL(ix, "file:///etc/passwd"); resignArtifact(ix, f.key) })
		}, ErrVerify, "want http(s)"},
		{"traversal in name", "", func(f *fixture) {
			f.edit(func(ix *Index) {
				ix.Connectors[0].Name = "../test-sink"
				ix.Connectors[0].Versions[0].Spec.Name = "../test-sink"
			})
		}, ErrVerify, "want lower case letters"},
		{"upper case name", "", func(f *fixture) {
			f.edit(func(ix *Index) { ix.Connectors[0].Name = "Test_Sink" })
		}, ErrVerify, "want lower case letters"},
		{"traversal in version", "", func(f *fixture) {
			f.edit(func(ix *Index) {
				ix.Connectors[0].Versions[0].Version = "1.0.0/../../x"
			})
		}, ErrVerify, "want MAJOR.MINOR.PATCH"},
		{"traversal in platform", "", func(f *fixture) {
			f.edit(func(ix *Index) {
				r := &ix.Connectors[0].Versions[0]
				r.Platforms["../linux"] = r.Platforms[Platform()]
			})
		}, ErrVerify, "want GOOS/GOARCH"},
		{"newer format", "", func(f *fixture) { f.edit(func(ix *Index) { ix.FormatVersion = 2 }) }, ErrVerify, "format_version 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, testSpec("test-sink", "1.0.0"))
			os.MkdirAll(f.plugins, 0o755)
			before := snapshot(t, f.plugins)
			tc.setup(f)
			ref := tc.ref
			if ref == "" {
				ref = "test-sink@1.0.0"
				if tc.name == "yanked" {
					ref = "test-sink"
				}
			}
			_, err := f.install(ref)
			if err == nil {
				t.Fatal("installed; want a refusal")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v: not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			if after := snapshot(t, f.plugins); after != before {
				t.Errorf("plugin dir changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

func setURL(ix *Index, u string) {
	r := &ix.Connectors[0].Versions[0]
	for p, a := range r.Platforms {
		a.URL = u
		r.Platforms[p] = a
	}
}

func TestHubYankedInstallsWhenPinned(t *testing.T) {
	f := newFixture(t, testSpec("test-sink", "1.0.0"), testSpec("test-sink", "1.1.0"))
	f.edit(func(ix *Index) { ix.Connectors[0].Versions[0].Yanked = true })
	if p, err := f.install("test-sink"); err != nil || !strings.Contains(p, "1.0.0") {
		t.Fatalf("unpinned: %s %v (want the newest non-yanked, 1.0.0)", p, err)
	}
	in, _ := f.installer()
	var warned string
	in.Warn = func(m string) { warned = m }
	c, err := in.Resolve("test-sink", "1.1.0")
	if err != nil || c.Release.Version != "1.1.0" || !strings.Contains(warned, "yanked") {
		t.Fatalf("pinned yanked: %v, warning %q", err, warned)
	}
}

func TestHubPublishRefusesDifferentBytes(t *testing.T) {
	f := newFixture(t, testSpec("test-sink", "1.0.0"))
	dir := t.TempDir()
	bin := scriptPlugin(t, dir, testSpec("test-sink", "1.0.0"))
	p := &Publisher{Dir: f.catDir, Key: f.key}
	if pubs, err := p.Publish(context.Background(), []string{bin}); err != nil || !pubs[0].Unchanged {
		t.Fatalf("same bytes again: %v %v", pubs, err)
	}
	os.WriteFile(bin, append(mustRead(t, bin), []byte("# changed\n")...), 0o755)
	if _, err := p.Publish(context.Background(), []string{bin}); !errors.Is(err, ErrExists) {
		t.Fatalf("different bytes: %v", err)
	}
	p.Force = true
	if _, err := p.Publish(context.Background(), []string{bin}); err != nil {
		t.Fatalf("--force: %v", err)
	}
	if _, err := (&Publisher{Dir: f.catDir, Key: testKey(t, 9)}).Publish(context.Background(), []string{bin}); err == nil || !strings.Contains(err.Error(), "signed by key") {
		t.Fatalf("other key: %v", err)
	}
	if err := p.Yank("test-sink", "1.0.0", "bad", true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.install("test-sink"); !errors.Is(err, ErrYanked) {
		t.Fatalf("after yank: %v", err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHubTrustPatterns(t *testing.T) {
	k := TrustedKey{Connectors: []string{"acme", "acme-*"}}
	for name, want := range map[string]bool{"acme": true, "acme-s3": true, "acmex": false, "s3": false} {
		if k.Allows(name) != want {
			t.Errorf("Allows(%q) = %v", name, !want)
		}
	}
	for _, p := range []string{"acme", "acme-*", "acme*", "*"} {
		if err := CheckPattern(p); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
	for _, p := range []string{"", "../x", "a*b", "Acme", "**"} {
		if CheckPattern(p) == nil {
			t.Errorf("%q accepted", p)
		}
	}
}

func TestHubConfigRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte("server: localhost:7400\ncatalogs:\n  - name: c\n    url: https://example.com/\n"), 0o600)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TrustedKeys = append(cfg.TrustedKeys, TrustedKey{Publisher: "p", Key: testKey(t, 1).Public().String(), Connectors: []string{"p-*"}})
	if err := cfg.Save(path); err != nil {
		t.Fatal(err)
	}
	b := string(mustRead(t, path))
	if !strings.Contains(b, "server: localhost:7400") || !strings.Contains(b, "p-*") || !strings.Contains(b, "https://example.com/") {
		t.Fatalf("saved config:\n%s", b)
	}
}

// goldenIndex is a fixed index exercising every field.
func goldenIndex(t testing.TB) (*Index, PrivateKey) {
	k := testKey(t, 1)
	spec := testSpec("file", "1.2.0")
	spec.Kinds = []connector.Kind{connector.KindSink, connector.KindSource}
	spec.Fields = append(spec.Fields, connector.Field{Name: "token", Type: connector.TypeString, Secret: true, Doc: "API token."},
		connector.Field{Name: "rotate.max_bytes", Type: connector.TypeSize, Default: "64MiB", Doc: "Rotate size.", Kinds: []connector.Kind{connector.KindSink}})
	old := testSpec("file", "1.0.0")
	ix := &Index{FormatVersion: FormatVersion, Connectors: []Connector{{
		Name: "file", Description: "Files.", Kinds: spec.Kinds, Homepage: "https://example.com/file", License: "Apache-2.0", Publisher: k.Public().KeyID(),
		Versions: []Release{
			{Version: "1.0.0", Released: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), MinJunction: "0.1.0", ProtocolVersion: 1, Yanked: true, YankReason: "loses data", Spec: old,
				Platforms: map[string]Artifact{"linux/amd64": {URL: "artifacts/file/1.0.0/linux-amd64/file", Size: 1000, SHA256: strings.Repeat("ab", 32)}}},
			{Version: "1.2.0", Released: time.Date(2025, 3, 2, 3, 4, 5, 0, time.UTC), MinJunction: "0.1.0", ProtocolVersion: 1, Spec: spec,
				Platforms: map[string]Artifact{
					"linux/amd64":  {URL: "artifacts/file/1.2.0/linux-amd64/file", Size: 2000, SHA256: strings.Repeat("cd", 32)},
					"darwin/arm64": {URL: "https://cdn.example.com/file/1.2.0/darwin-arm64/file", Size: 3000, SHA256: strings.Repeat("ef", 32)},
				}},
		},
	}}}
	for ri := range ix.Connectors[0].Versions {
		r := &ix.Connectors[0].Versions[ri]
		for p, a := range r.Platforms {
			signArtifact(k, "file", r.Version, p, &a)
			r.Platforms[p] = a
		}
	}
	return ix, k
}

func TestHubIndexGolden(t *testing.T) {
	ix, k := goldenIndex(t)
	data, err := ix.Encode()
	if err != nil {
		t.Fatal(err)
	}
	sig := SignIndex(k, data)
	files := map[string][]byte{"testdata/index.golden.json": data, "testdata/index.golden.json.sig": sig}
	for path, got := range files {
		if *update {
			os.WriteFile(path, got, 0o644)
		}
		if want := mustRead(t, path); string(want) != string(got) {
			t.Errorf("%s changed (run with -update if intended):\n%s", path, got)
		}
	}
	parsed, err := ParseIndex(data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := parsed.Encode()
	if string(again) != string(data) {
		t.Error("decode/encode is not stable")
	}
	if r := parsed.Connectors[0].Versions[0]; r.Version != "1.2.0" {
		t.Errorf("versions not newest first: %s", r.Version)
	}
}

func FuzzParseIndex(f *testing.F) {
	ix, _ := goldenIndex(f)
	data, _ := ix.Encode()
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := ParseIndex(data)
		if err != nil {
			if !errors.Is(err, ErrVerify) {
				t.Fatalf("error not ErrVerify: %v", err)
			}
			return
		}
		in := &Installer{Dir: "/plugins"}
		cat := &Catalog{dir: "/catalog"}
		for _, c := range ix.Connectors {
			for _, r := range c.Versions {
				p, err := in.PluginPath(c.Name, r.Version)
				if err != nil || !strings.HasPrefix(p, "/plugins/"+c.Name+"/") {
					t.Fatalf("plugin path %q %v", p, err)
				}
				for _, a := range r.Platforms {
					loc, err := cat.ArtifactLocation(a)
					if err != nil {
						t.Fatalf("validated url %q: %v", a.URL, err)
					}
					if !strings.HasPrefix(loc, "/catalog/") && !strings.HasPrefix(loc, "http://") && !strings.HasPrefix(loc, "https://") {
						t.Fatalf("url %q resolves to %q", a.URL, loc)
					}
				}
			}
		}
		out, err := ix.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseIndex(out); err != nil {
			t.Fatalf("re-encoded index does not parse: %v", err)
		}
	})
}
