package plugin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/pluginwire"
	"github.com/junctionhq/junction/internal/version"
	"github.com/junctionhq/junction/sdk/connector"
)

// ErrPluginNotFound means no installed plugin matches a connector's
// plugin name and version constraint.
var ErrPluginNotFound = errors.New("connector plugin not found")

// DefaultDirs are where plugins are looked for by default: DATA/plugins
// (where the hub installs), then the plugins directory next to the running
// binary (bin/plugins in a source build).
func DefaultDirs(dataDir string) []string {
	dirs := []string{filepath.Join(dataDir, "plugins")}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Join(filepath.Dir(exe), "plugins"))
	}
	return dirs
}

// Installed is a plugin binary found in a plugin directory.
type Installed struct {
	Spec connector.Spec
	Path string
}

// Name is the plugin's name from its Spec.
func (p Installed) Name() string { return p.Spec.Name }

// Version is the plugin's version from its Spec.
func (p Installed) Version() string { return p.Spec.Version }

// Registry finds the plugins installed in a list of directories, keyed by
// name@version from their Spec. It asks each executable for its Spec once
// (running it with --spec) and caches the answer while the file is
// unchanged. It is safe for concurrent use.
type Registry struct {
	dirs []string
	log  *slog.Logger

	mu    sync.Mutex
	cache map[string]cached
	// unusable holds, per plugin name, why executables that claim it
	// cannot be used, to explain a failed Resolve.
	unusable map[string][]string
}

type cached struct {
	mod  time.Time
	size int64
	spec connector.Spec
	err  error
}

// NewRegistry returns a registry over dirs; the earlier a directory, the
// higher its precedence for the same name@version.
func NewRegistry(dirs []string, log *slog.Logger) *Registry {
	return &Registry{dirs: dirs, log: log, cache: make(map[string]cached), unusable: make(map[string][]string)}
}

// Dirs are the directories the registry searches.
func (r *Registry) Dirs() []string { return r.dirs }

// List returns every installed plugin, sorted by name then newest version
// first. Executables that do not answer --spec with a valid Spec are
// logged and skipped.
func (r *Registry) List(ctx context.Context) []Installed {
	var out []Installed
	seen := map[string]bool{}
	unusable := map[string][]string{}
	defer func() {
		r.mu.Lock()
		r.unusable = unusable
		r.mu.Unlock()
	}()
	for _, dir := range r.dirs {
		for _, path := range executables(dir) {
			spec, err := r.spec(ctx, path)
			if err != nil {
				if spec.Name != "" {
					unusable[spec.Name] = append(unusable[spec.Name], err.Error())
				}
				r.log.Debug("not a usable connector plugin", "path", path, "err", err)
				continue
			}
			key := spec.Name + "@" + spec.Version
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, Installed{Spec: spec, Path: path})
		}
	}
	slices.SortFunc(out, func(a, b Installed) int {
		if c := strings.Compare(a.Name(), b.Name()); c != 0 {
			return c
		}
		va, _ := version.Parse(a.Version())
		vb, _ := version.Parse(b.Version())
		return vb.Compare(va)
	})
	return out
}

// Resolve returns the newest installed plugin called name whose version
// the constraint allows (empty: any). The error lists what is installed.
func (r *Registry) Resolve(ctx context.Context, name, constraint string) (Installed, error) {
	c, err := version.ParseConstraint(constraint)
	if err != nil {
		return Installed{}, err
	}
	var have []string
	var candidates []Installed
	for _, p := range r.List(ctx) {
		if p.Name() != name {
			continue
		}
		have = append(have, p.Version())
		candidates = append(candidates, p)
	}
	if i := c.Newest(have); i >= 0 {
		return candidates[i], nil
	}
	want := name
	if constraint != "" {
		want += "@" + constraint
	}
	if len(have) == 0 {
		r.mu.Lock()
		why := r.unusable[name]
		r.mu.Unlock()
		if len(why) > 0 {
			return Installed{}, fmt.Errorf("%w: %s is installed but unusable: %s", ErrPluginNotFound, name, strings.Join(why, "; "))
		}
		return Installed{}, fmt.Errorf("%w: %s is not installed in %s (install it with junction hub install %s)", ErrPluginNotFound, name, strings.Join(r.dirs, ", "), name)
	}
	return Installed{}, fmt.Errorf("%w: no installed version of %s matches %s (installed: %s)", ErrPluginNotFound, name, want, strings.Join(have, ", "))
}

func (r *Registry) spec(ctx context.Context, path string) (connector.Spec, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return connector.Spec{}, err
	}
	r.mu.Lock()
	c, ok := r.cache[path]
	r.mu.Unlock()
	if ok && c.mod.Equal(fi.ModTime()) && c.size == fi.Size() {
		return c.spec, c.err
	}
	spec, err := pluginwire.ReadSpec(ctx, path)
	r.mu.Lock()
	r.cache[path] = cached{mod: fi.ModTime(), size: fi.Size(), spec: spec, err: err}
	r.mu.Unlock()
	return spec, err
}

// executables lists the regular executable files under dir, up to three
// levels deep (the hub installs as NAME/VERSION/NAME).
func executables(dir string) []string {
	var out []string
	root := filepath.Clean(dir)
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if path != root && strings.Count(strings.TrimPrefix(path, root), string(filepath.Separator)) > 2 {
				return filepath.SkipDir
			}
			if strings.HasPrefix(d.Name(), ".") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		fi, err := d.Info()
		if err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			out = append(out, path)
		}
		return nil
	})
	return out
}
