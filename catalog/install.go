package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/junctionhq/junction/internal/buildinfo"
	"github.com/junctionhq/junction/internal/pluginwire"
	"github.com/junctionhq/junction/internal/version"
	"github.com/junctionhq/junction/sdk/connector"
)

// Platform is this binary's GOOS/GOARCH, the platform key installs use.
func Platform() string { return runtime.GOOS + "/" + runtime.GOARCH }

// Candidate is a resolved release to install.
type Candidate struct {
	Catalog   *Catalog
	Connector *Connector
	Release   *Release
	Platform  string
	Artifact  Artifact
}

// Ref is name@version.
func (c Candidate) Ref() string { return c.Connector.Name + "@" + c.Release.Version }

// Installer resolves connectors in catalogs and installs them into a
// plugin directory as DIR/NAME/VERSION/NAME, the layout plugin.Registry
// reads. Its methods are safe to call from one goroutine at a time.
type Installer struct {
	// Catalogs in precedence order: the first listing a name provides it.
	Catalogs []*Catalog
	// Trust decides who may sign which connector.
	Trust *TrustStore
	// Dir is the plugin directory.
	Dir string
	// Platform defaults to Platform().
	Platform string
	// JunctionVersion defaults to buildinfo.Version.
	JunctionVersion string
	// Offline refuses to download artifacts over HTTP.
	Offline bool
	// Progress, when set, returns a writer that is fed the downloaded
	// bytes of an artifact of size bytes (a progress bar). If it is an
	// io.Closer it is closed when the download ends.
	Progress func(ref string, size int64) io.Writer
	// Warn receives warnings, such as installing a yanked version.
	Warn func(msg string)
	// ReadSpec defaults to pluginwire.ReadSpec.
	ReadSpec func(ctx context.Context, path string) (connector.Spec, error)
}

func (in *Installer) platform() string {
	if in.Platform != "" {
		return in.Platform
	}
	return Platform()
}

func (in *Installer) junction() string {
	if in.JunctionVersion != "" {
		return in.JunctionVersion
	}
	return buildinfo.Version
}

// Find returns the first catalog listing name and its entry.
func (in *Installer) Find(name string) (*Catalog, *Connector, error) {
	if !ValidName(name) {
		return nil, nil, fmt.Errorf("connector name %q: want lower case letters, digits and dashes", name)
	}
	var searched []string
	for _, c := range in.Catalogs {
		if e := c.Index.Lookup(name); e != nil {
			return c, e, nil
		}
		searched = append(searched, c.Source.Name)
	}
	if len(searched) == 0 {
		return nil, nil, fmt.Errorf("%w: %s: no catalogs configured (add one to the config file or pass --catalog)", ErrNotFound, name)
	}
	return nil, nil, fmt.Errorf("%w: no catalog lists %s (searched %s)", ErrNotFound, name, strings.Join(searched, ", "))
}

// Compatible reports why r cannot run with this Junction, or nil: it needs
// a newer Junction, or speaks another connector protocol. A prerelease
// Junction counts as its release.
func (in *Installer) Compatible(r *Release) error {
	jv, err := version.Parse(in.junction())
	if err != nil {
		return fmt.Errorf("this junction's version %q: %w", in.junction(), err)
	}
	jv.Pre = ""
	min, err := version.Parse(r.MinJunction)
	if err != nil {
		return fmt.Errorf("%w: min_junction %q: %v", ErrVerify, r.MinJunction, err)
	}
	if jv.Compare(min) < 0 {
		return fmt.Errorf("%w: %s@%s needs Junction %s or newer, this is %s", ErrIncompatible, r.Spec.Name, r.Version, r.MinJunction, in.junction())
	}
	if r.ProtocolVersion != connector.ProtocolVersion {
		return fmt.Errorf("%w: %s@%s speaks connector protocol %d, this Junction speaks %d", ErrIncompatible, r.Spec.Name, r.Version, r.ProtocolVersion, connector.ProtocolVersion)
	}
	return nil
}

// Resolve picks the newest release of name that constraint allows, is not
// yanked, is compatible and has a build for this platform. A yanked
// release is picked only when the constraint names its exact version, with
// a warning. The error says why nothing fits (ErrNotFound, ErrYanked,
// ErrIncompatible or ErrNoPlatform).
func (in *Installer) Resolve(name, constraint string) (Candidate, error) {
	cat, entry, err := in.Find(name)
	if err != nil {
		return Candidate{}, err
	}
	cons, err := version.ParseConstraint(constraint)
	if err != nil {
		return Candidate{}, fmt.Errorf("%s@%s: %w", name, constraint, err)
	}
	var firstErr error
	var have []string
	for i := range entry.Versions {
		r := &entry.Versions[i]
		have = append(have, r.Version)
		v, err := version.Parse(r.Version)
		if err != nil || !cons.Allows(v) {
			continue
		}
		var why error
		switch {
		case r.Yanked && !cons.Exact():
			why = fmt.Errorf("%w: %s@%s is yanked%s; pin it exactly (%s@%s) to install it anyway", ErrYanked, name, r.Version, reason(r.YankReason), name, r.Version)
		default:
			why = in.Compatible(r)
		}
		a, ok := r.Platforms[in.platform()]
		if why == nil && !ok {
			var ps []string
			for p := range r.Platforms {
				ps = append(ps, p)
			}
			why = fmt.Errorf("%w: %s@%s has no build for %s (builds: %s)", ErrNoPlatform, name, r.Version, in.platform(), strings.Join(sortedStrings(ps), ", "))
		}
		if why != nil {
			if firstErr == nil || (errors.Is(firstErr, ErrYanked) && !errors.Is(why, ErrYanked)) {
				firstErr = why
			}
			continue
		}
		if r.Yanked && in.Warn != nil {
			in.Warn(fmt.Sprintf("warning: %s@%s is yanked%s", name, r.Version, reason(r.YankReason)))
		}
		return Candidate{Catalog: cat, Connector: entry, Release: r, Platform: in.platform(), Artifact: a}, nil
	}
	if firstErr != nil {
		return Candidate{}, firstErr
	}
	return Candidate{}, fmt.Errorf("%w: no version of %s matches %q in catalog %s (versions: %s)", ErrNotFound, name, constraint, cat.Source.Name, strings.Join(have, ", "))
}

func reason(r string) string {
	if r == "" {
		return ""
	}
	return " (" + r + ")"
}

// PluginPath is where a release is installed: DIR/NAME/VERSION/NAME.
func (in *Installer) PluginPath(name, ver string) (string, error) {
	if !ValidName(name) || !validVersion(ver) {
		return "", fmt.Errorf("%w: unsafe plugin name or version %q@%q", ErrVerify, name, ver)
	}
	return filepath.Join(in.Dir, name, ver, name), nil
}

// Install verifies and installs a resolved candidate, returning the
// installed path and whether it was already installed with these bytes.
// Before anything runs or lands in the plugin directory it checks the
// signer is trusted for the name, the signature over name, version,
// platform, sha256 and size, compatibility, the downloaded size and
// sha256, and finally that the binary's --spec names the same connector
// and version. The binary is written to a hidden temporary file in Dir,
// fsynced, made executable and renamed into place; on any failure the
// temporary file and any directory created for it are removed.
func (in *Installer) Install(ctx context.Context, c Candidate) (string, bool, error) {
	name, ver, a := c.Connector.Name, c.Release.Version, c.Artifact
	ref := name + "@" + ver
	dest, err := in.PluginPath(name, ver)
	if err != nil {
		return "", false, err
	}
	key, _, err := in.Trust.Signer(c.Connector.Publisher, name)
	if err != nil {
		return "", false, err
	}
	if err := verifySig(key, ArtifactMessage(name, ver, c.Platform, a.SHA256, a.Size), a.Signature); err != nil {
		return "", false, fmt.Errorf("%w: %s for %s: artifact signature by key %s: %v", ErrVerify, ref, c.Platform, c.Connector.Publisher, err)
	}
	if err := in.Compatible(c.Release); err != nil {
		return "", false, err
	}
	if sum, err := fileSHA256(dest); err == nil && sum == a.SHA256 {
		in.recordOrigin(dest, c)
		return dest, true, nil
	}
	if err := os.MkdirAll(in.Dir, 0o755); err != nil {
		return "", false, fmt.Errorf("plugin directory: %w", err)
	}
	tmp, err := os.CreateTemp(in.Dir, ".junction-install-*")
	if err != nil {
		return "", false, fmt.Errorf("plugin directory: %w", err)
	}
	tmpName := tmp.Name()
	installed := false
	defer func() {
		if !installed {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err := in.download(ctx, c, tmp); err != nil {
		return "", false, err
	}
	if err := tmp.Chmod(0o755); err != nil {
		return "", false, err
	}
	if err := tmp.Sync(); err != nil {
		return "", false, err
	}
	if err := tmp.Close(); err != nil {
		return "", false, err
	}
	spec, err := in.readSpec(ctx, tmpName)
	if err != nil {
		return "", false, fmt.Errorf("%w: %s: the downloaded plugin does not answer --spec: %v", ErrVerify, ref, err)
	}
	if spec.Name != name || spec.Version != ver || spec.ProtocolVersion != c.Release.ProtocolVersion {
		return "", false, fmt.Errorf("%w: %s: the downloaded plugin says it is %s@%s (protocol %d)", ErrVerify, ref, spec.Name, spec.Version, spec.ProtocolVersion)
	}
	created, err := mkdirs(filepath.Dir(dest))
	if err != nil {
		return "", false, fmt.Errorf("install %s: %w", ref, err)
	}
	if err := os.Rename(tmpName, dest); err != nil {
		for i := len(created) - 1; i >= 0; i-- {
			os.Remove(created[i])
		}
		return "", false, fmt.Errorf("install %s: %w", ref, err)
	}
	installed = true
	syncDir(filepath.Dir(dest))
	for _, d := range created {
		syncDir(filepath.Dir(d))
	}
	in.recordOrigin(dest, c)
	return dest, false, nil
}

// recordOrigin notes which catalog the plugin at dest came from. The
// plugin is installed either way: a failure is only a warning.
func (in *Installer) recordOrigin(dest string, c Candidate) {
	if c.Catalog == nil {
		return
	}
	if err := writeOrigin(dest, originOf(c.Catalog.Source)); err != nil && in.Warn != nil {
		in.Warn(fmt.Sprintf("warning: %s installed, but where it came from is not recorded: %v", c.Ref(), err))
	}
}

func (in *Installer) download(ctx context.Context, c Candidate, w io.Writer) error {
	ref, a := c.Ref(), c.Artifact
	body, length, err := c.Catalog.openArtifact(ctx, a, in.Offline)
	if err != nil {
		return fmt.Errorf("download %s: %w", ref, err)
	}
	defer body.Close()
	if length >= 0 && length != a.Size {
		return fmt.Errorf("%w: %s: artifact is %d bytes, the index says %d", ErrVerify, ref, length, a.Size)
	}
	h := sha256.New()
	dst := io.MultiWriter(w, h)
	if in.Progress != nil {
		p := in.Progress(ref, a.Size)
		if cl, ok := p.(io.Closer); ok {
			defer cl.Close()
		}
		dst = io.MultiWriter(dst, p)
	}
	n, err := io.Copy(dst, io.LimitReader(body, a.Size+1))
	if err != nil {
		return fmt.Errorf("%w: download %s: %v after %d of %d bytes", ErrVerify, ref, err, n, a.Size)
	}
	if n != a.Size {
		return fmt.Errorf("%w: %s: downloaded %d bytes, the index says %d (truncated or oversized download)", ErrVerify, ref, n, a.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != a.SHA256 {
		return fmt.Errorf("%w: %s: sha256 %s, the index says %s (tampered or corrupt artifact)", ErrVerify, ref, got, a.SHA256)
	}
	return nil
}

// readSpec runs --spec, retrying briefly on ETXTBSY: a file just written
// can stay busy while another goroutine's fork still holds its descriptor.
func (in *Installer) readSpec(ctx context.Context, path string) (connector.Spec, error) {
	read := in.ReadSpec
	if read == nil {
		read = pluginwire.ReadSpec
	}
	for i := 0; ; i++ {
		spec, err := read(ctx, path)
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || i == 20 {
			return spec, err
		}
		select {
		case <-ctx.Done():
			return spec, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// mkdirs creates dir and its missing parents, returning those it created,
// outermost first.
func mkdirs(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	var created []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil && !os.IsExist(err) {
			for j := len(created) - 1; j >= 0; j-- {
				os.Remove(created[j])
			}
			return nil, err
		}
		created = append(created, missing[i])
	}
	return created, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sortedStrings(s []string) []string {
	slices.Sort(s)
	return s
}
