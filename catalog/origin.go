package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// originFile is the file next to an installed plugin binary
// (DIR/NAME/VERSION/.origin.json) recording the catalog it came from, so
// that list and upgrade look there again. The plugin registry skips
// hidden files.
const originFile = ".origin.json"

// maxOriginBytes bounds what ReadOrigin reads.
const maxOriginBytes = 64 << 10

// Origin is the catalog an installed plugin came from.
type Origin struct {
	// Catalog is the catalog's name when it was installed.
	Catalog string `json:"catalog"`
	// Location is its URL or absolute directory.
	Location string `json:"location"`
	// Key pins the index signer, when the catalog did.
	Key string `json:"key,omitempty"`
}

// Source is the catalog source the origin names.
func (o Origin) Source() (Source, error) {
	s := Source{Name: o.Catalog, Location: o.Location}
	if s.Name == "" {
		s.Name = o.Location
	}
	if o.Key != "" {
		k, err := ParsePublicKey(o.Key)
		if err != nil {
			return Source{}, fmt.Errorf("origin of catalog %s: %w", s.Name, err)
		}
		s.Key = k
	}
	return s, nil
}

// originOf is the origin to record for a plugin from s.
func originOf(s Source) Origin {
	o := Origin{Catalog: s.Name, Location: s.Location}
	if !s.IsRemote() {
		if abs, err := filepath.Abs(s.Location); err == nil {
			o.Location = abs
			if o.Catalog == s.Location {
				o.Catalog = abs
			}
		}
	}
	if s.Key != nil {
		o.Key = s.Key.String()
	}
	return o
}

// writeOrigin records o next to the plugin installed at bin.
func writeOrigin(bin string, o Origin) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(filepath.Dir(bin), originFile), append(b, '\n'), 0o644)
}

// ReadOrigin returns the catalog name@ver was installed from into dir. ok
// is false when nothing was recorded (a plugin installed before origins
// were recorded, or placed by hand).
func ReadOrigin(dir, name, ver string) (o Origin, ok bool, err error) {
	if !ValidName(name) || !validVersion(ver) {
		return Origin{}, false, fmt.Errorf("%s@%s: not a valid connector name and version", name, ver)
	}
	path := filepath.Join(dir, name, ver, originFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Origin{}, false, nil
	}
	if err != nil {
		return Origin{}, false, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxOriginBytes+1))
	if err != nil {
		return Origin{}, false, err
	}
	o, err = parseOrigin(b)
	if err != nil {
		return Origin{}, false, fmt.Errorf("%s: %w", path, err)
	}
	return o, true, nil
}

func parseOrigin(b []byte) (Origin, error) {
	if len(b) > maxOriginBytes {
		return Origin{}, fmt.Errorf("larger than %d bytes", maxOriginBytes)
	}
	var o Origin
	if err := json.Unmarshal(b, &o); err != nil {
		return Origin{}, fmt.Errorf("not an origin record: %w", err)
	}
	if o.Location == "" {
		return Origin{}, errors.New("origin record without a location")
	}
	if _, err := o.Source(); err != nil {
		return Origin{}, err
	}
	return o, nil
}
