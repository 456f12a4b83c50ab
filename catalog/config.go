package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Config is the hub's part of ~/.junction/config.yaml.
type Config struct {
	// Catalogs are searched in order; the first that lists a connector
	// provides it.
	Catalogs []SourceConfig `yaml:"catalogs,omitempty"`
	// TrustedKeys may sign connectors, each for its pinned names.
	TrustedKeys []TrustedKey `yaml:"trusted_keys,omitempty"`

	// rest keeps the file's other top-level keys across a save.
	rest map[string]yaml.Node
}

// SourceConfig configures one catalog.
type SourceConfig struct {
	Name string `yaml:"name"`
	// URL is an http(s) URL or a local directory.
	URL string `yaml:"url"`
	// Key, when set, is the only key whose index.json.sig is accepted
	// for this catalog. When empty, any trusted key may sign the index.
	Key string `yaml:"key,omitempty"`
}

// LoadConfig reads the config file at path. A missing file is an empty
// config.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var c Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := yaml.Unmarshal(b, &c.rest); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	delete(c.rest, "catalogs")
	delete(c.rest, "trusted_keys")
	for i, s := range c.Catalogs {
		if s.URL == "" {
			return nil, fmt.Errorf("config %s: catalogs[%d] (%s): no url", path, i, s.Name)
		}
		if s.Key != "" {
			if _, err := ParsePublicKey(s.Key); err != nil {
				return nil, fmt.Errorf("config %s: catalog %s: %w", path, s.Name, err)
			}
		}
	}
	return &c, nil
}

// Save writes the config to path atomically, keeping keys it does not
// manage.
func (c *Config) Save(path string) error {
	out := map[string]any{}
	for k, v := range c.rest {
		out[k] = &v
	}
	if len(c.Catalogs) > 0 {
		out["catalogs"] = c.Catalogs
	}
	if len(c.TrustedKeys) > 0 {
		out["trusted_keys"] = c.TrustedKeys
	}
	b, err := yaml.Marshal(out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return writeFileAtomic(path, b, 0o600)
}

// writeFileAtomic writes data to a temporary file in path's directory,
// syncs it and renames it over path, so readers see the old or the new
// content, never a mix.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable; errors are ignored because some
// filesystems cannot sync directories.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
