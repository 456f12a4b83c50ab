package catalog

import (
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	jbuild "github.com/junctionhq/junction/internal/buildinfo"
	"github.com/junctionhq/junction/internal/pluginwire"
	"github.com/junctionhq/junction/internal/version"
	"github.com/junctionhq/junction/sdk/connector"
)

// Publisher adds plugin binaries to a catalog directory and signs it. A
// catalog directory has one signing key: the index is signed with it, and
// every connector it publishes names it as publisher.
type Publisher struct {
	// Dir is the catalog directory; it is created if missing.
	Dir string
	// Key signs artifacts and the index.
	Key PrivateKey
	// Force replaces an artifact or release with different bytes or spec,
	// takes over a connector published with another key, and re-signs an
	// index signed by another key.
	Force bool
	// MinJunction is the min_junction of new releases; default this
	// binary's version without its prerelease.
	MinJunction string
	// Now stamps release dates; default time.Now.
	Now func() time.Time
	// ReadSpec defaults to pluginwire.ReadSpec.
	ReadSpec func(ctx context.Context, path string) (connector.Spec, error)
}

// Published reports one binary's publication.
type Published struct {
	Ref, Platform, Path string
	// Unchanged is true when the same bytes were already published.
	Unchanged bool
}

// Publish runs each binary's --spec, copies it to
// artifacts/NAME/VERSION/GOOS-GOARCH/NAME, signs it, and rewrites
// index.json and index.json.sig, each atomically. It refuses to replace a
// published artifact with different bytes (ErrExists) unless Force. On
// error nothing is written to the index.
func (p *Publisher) Publish(ctx context.Context, binaries []string) ([]Published, error) {
	ix, err := p.load()
	if err != nil {
		return nil, err
	}
	var out []Published
	type pending struct{ src, dst string }
	var copies []pending
	for _, bin := range binaries {
		read := p.ReadSpec
		if read == nil {
			read = pluginwire.ReadSpec
		}
		spec, err := read(ctx, bin)
		if err != nil {
			return nil, fmt.Errorf("publish %s: %w", bin, err)
		}
		if !ValidName(spec.Name) || !validVersion(spec.Version) {
			return nil, fmt.Errorf("publish %s: unusable name or version %q@%q", bin, spec.Name, spec.Version)
		}
		platform := binaryPlatform(bin)
		sum, err := fileSHA256(bin)
		if err != nil {
			return nil, fmt.Errorf("publish %s: %w", bin, err)
		}
		fi, err := os.Stat(bin)
		if err != nil {
			return nil, fmt.Errorf("publish %s: %w", bin, err)
		}
		ref := spec.Name + "@" + spec.Version
		rel := path.Join("artifacts", spec.Name, spec.Version, stringsReplace(platform), spec.Name)
		a := Artifact{URL: rel, Size: fi.Size(), SHA256: sum}
		signArtifact(p.Key, spec.Name, spec.Version, platform, &a)

		c := ix.Lookup(spec.Name)
		if c == nil {
			ix.Connectors = append(ix.Connectors, Connector{Name: spec.Name})
			c = &ix.Connectors[len(ix.Connectors)-1]
		} else if c.Publisher != p.Key.Public().KeyID() && !p.Force {
			return nil, fmt.Errorf("publish %s: %w: %s is published by key %s, not %s (use --force to take it over)", bin, ErrExists, spec.Name, c.Publisher, p.Key.Public().KeyID())
		}
		c.Publisher = p.Key.Public().KeyID()
		r := c.Release(spec.Version)
		if r == nil {
			c.Versions = append(c.Versions, Release{Version: spec.Version, Released: p.now(), MinJunction: p.minJunction(), Platforms: map[string]Artifact{}})
			r = &c.Versions[len(c.Versions)-1]
		} else if !sameSpec(r.Spec, spec) && !p.Force {
			return nil, fmt.Errorf("publish %s: %w: %s is published with a different spec (bump the version, or use --force)", bin, ErrExists, ref)
		}
		r.Spec, r.ProtocolVersion = spec, spec.ProtocolVersion
		if old, ok := r.Platforms[platform]; ok && old.SHA256 == a.SHA256 && old.Size == a.Size {
			out = append(out, Published{Ref: ref, Platform: platform, Path: rel, Unchanged: true})
			if _, err := os.Stat(filepath.Join(p.Dir, filepath.FromSlash(rel))); err == nil {
				continue
			}
		} else if ok && !p.Force {
			return nil, fmt.Errorf("publish %s: %w: %s for %s (sha256 %s, now %s; bump the version, or use --force)", bin, ErrExists, ref, platform, old.SHA256, a.SHA256)
		} else {
			out = append(out, Published{Ref: ref, Platform: platform, Path: rel})
		}
		r.Platforms[platform] = a
		copies = append(copies, pending{bin, filepath.Join(p.Dir, filepath.FromSlash(rel))})
		if newestIs(c, spec.Version) {
			c.Description, c.Kinds, c.Homepage, c.License = spec.Description, spec.Kinds, spec.Homepage, spec.License
		}
	}
	for _, cp := range copies {
		if err := copyFileAtomic(cp.src, cp.dst); err != nil {
			return nil, fmt.Errorf("publish %s: %w", cp.src, err)
		}
	}
	return out, p.write(ix)
}

// Yank marks name@ver yanked (or, with yank false, not yanked) and
// re-signs the index.
func (p *Publisher) Yank(name, ver, reason string, yank bool) error {
	ix, err := p.load()
	if err != nil {
		return err
	}
	c := ix.Lookup(name)
	if c == nil || c.Release(ver) == nil {
		return fmt.Errorf("%w: %s@%s is not in catalog %s", ErrNotFound, name, ver, p.Dir)
	}
	r := c.Release(ver)
	r.Yanked, r.YankReason = yank, ""
	if yank {
		r.YankReason = reason
	}
	return p.write(ix)
}

func (p *Publisher) load() (*Index, error) {
	data, err := os.ReadFile(filepath.Join(p.Dir, "index.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return &Index{FormatVersion: FormatVersion}, nil
	}
	if err != nil {
		return nil, err
	}
	sigData, err := os.ReadFile(filepath.Join(p.Dir, "index.json.sig"))
	if err != nil && !p.Force {
		return nil, fmt.Errorf("catalog %s: %w (use --force to re-sign)", p.Dir, err)
	}
	if err == nil && !p.Force {
		sig, err := ParseSignature(sigData)
		if err != nil {
			return nil, err
		}
		if sig.KeyID != p.Key.Public().KeyID() {
			return nil, fmt.Errorf("catalog %s is signed by key %s, not %s (use --force to re-sign)", p.Dir, sig.KeyID, p.Key.Public().KeyID())
		}
		if err := verifySig(p.Key.Public(), indexMessage(data), sig.Signature); err != nil {
			return nil, fmt.Errorf("catalog %s: %w: index.json does not match its signature (use --force to re-sign)", p.Dir, ErrVerify)
		}
	}
	ix, err := ParseIndex(data)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", p.Dir, err)
	}
	return ix, nil
}

func (p *Publisher) write(ix *Index) error {
	data, err := ix.Encode()
	if err != nil {
		return err
	}
	if _, err := ParseIndex(data); err != nil {
		return fmt.Errorf("refusing to write an invalid index: %w", err)
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(p.Dir, "index.json"), data, 0o644); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(p.Dir, "index.json.sig"), SignIndex(p.Key, data), 0o644)
}

func (p *Publisher) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC().Truncate(time.Second)
	}
	return time.Now().UTC().Truncate(time.Second)
}

func (p *Publisher) minJunction() string {
	if p.MinJunction != "" {
		return p.MinJunction
	}
	v, err := version.Parse(jbuild.Version)
	if err != nil {
		return "0.0.0"
	}
	v.Pre = ""
	return v.String()
}

// binaryPlatform reads GOOS/GOARCH from a Go binary's build info, falling
// back to this binary's platform.
func binaryPlatform(bin string) string {
	goos, goarch := "", ""
	if bi, err := buildinfo.ReadFile(bin); err == nil {
		for _, s := range bi.Settings {
			switch s.Key {
			case "GOOS":
				goos = s.Value
			case "GOARCH":
				goarch = s.Value
			}
		}
	}
	if goos == "" || goarch == "" {
		return Platform()
	}
	return goos + "/" + goarch
}

func stringsReplace(platform string) string {
	b := []byte(platform)
	for i := range b {
		if b[i] == '/' {
			b[i] = '-'
		}
	}
	return string(b)
}

func sameSpec(a, b connector.Spec) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func newestIs(c *Connector, ver string) bool {
	var vs []string
	for _, r := range c.Versions {
		vs = append(vs, r.Version)
	}
	slices.SortFunc(vs, func(a, b string) int {
		va, _ := version.Parse(a)
		vb, _ := version.Parse(b)
		return vb.Compare(va)
	})
	return len(vs) > 0 && vs[0] == ver
}

func copyFileAtomic(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(f, in)
	if err == nil {
		err = f.Chmod(0o755)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), dst)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	syncDir(filepath.Dir(dst))
	return nil
}
