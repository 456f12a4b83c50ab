package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/junctionhq/junction/internal/version"
)

// InstalledVersions lists the versions of name installed in the hub's
// layout under dir (DIR/NAME/VERSION/NAME), newest first.
func InstalledVersions(dir, name string) ([]string, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("connector name %q: want lower case letters, digits and dashes", name)
	}
	ents, err := os.ReadDir(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() || !validVersion(e.Name()) {
			continue
		}
		if fi, err := os.Stat(filepath.Join(dir, name, e.Name(), name)); err == nil && fi.Mode().IsRegular() {
			out = append(out, e.Name())
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		va, _ := version.Parse(a)
		vb, _ := version.Parse(b)
		return vb.Compare(va)
	})
	return out, nil
}

// Remove deletes installed versions of name from dir (all of them when
// ver is empty) and returns the versions removed. Each version directory
// is first renamed to a hidden name, so the plugin disappears at once,
// then deleted.
func Remove(dir, name, ver string) ([]string, error) {
	have, err := InstalledVersions(dir, name)
	if err != nil {
		return nil, err
	}
	if ver != "" {
		if !validVersion(ver) {
			return nil, fmt.Errorf("version %q: want MAJOR.MINOR.PATCH", ver)
		}
		if !slices.Contains(have, ver) {
			return nil, fmt.Errorf("%w: %s@%s is not installed in %s", ErrNotFound, name, ver, dir)
		}
		have = []string{ver}
	}
	if len(have) == 0 {
		return nil, fmt.Errorf("%w: %s is not installed in %s", ErrNotFound, name, dir)
	}
	var removed []string
	for _, v := range have {
		tmp, err := os.MkdirTemp(dir, ".junction-remove-*")
		if err != nil {
			return removed, err
		}
		gone := filepath.Join(tmp, v)
		if err := os.Rename(filepath.Join(dir, name, v), gone); err != nil {
			os.Remove(tmp)
			return removed, fmt.Errorf("remove %s@%s: %w", name, v, err)
		}
		syncDir(filepath.Join(dir, name))
		removed = append(removed, v)
		if err := os.RemoveAll(tmp); err != nil {
			return removed, fmt.Errorf("remove %s@%s: %w", name, v, err)
		}
	}
	os.Remove(filepath.Join(dir, name))
	return removed, nil
}
