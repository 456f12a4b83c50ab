package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Source is one catalog to read: where it is and, optionally, the only
// key allowed to sign its index.
type Source struct {
	Name string
	// Location is an http(s) URL or a local directory.
	Location string
	// Key, when not nil, pins the index signer.
	Key PublicKey
}

// IsRemote reports whether the source is fetched over HTTP.
func (s Source) IsRemote() bool {
	return strings.HasPrefix(s.Location, "https://") || strings.HasPrefix(s.Location, "http://")
}

// Catalog is a verified index and where it came from.
type Catalog struct {
	Source Source
	Index  *Index
	// Signer is the key id that signed the index.
	Signer string
	base   *url.URL
	dir    string
	client *http.Client
}

// Loader fetches and verifies catalog indexes.
type Loader struct {
	// HTTP is the client for remote catalogs; default http.DefaultClient.
	HTTP *http.Client
	// Trust decides which keys may sign an index that has no pinned key.
	Trust *TrustStore
	// CacheDir, when set, keeps the last verified index of each remote
	// catalog, for Offline.
	CacheDir string
	// Offline reads remote catalogs from CacheDir only. The cached copy is
	// verified again, exactly like a fresh one.
	Offline bool
}

// Load fetches src's index.json and index.json.sig and verifies them: the
// signature over the exact bytes by the pinned key (or, with none, by any
// trusted key), then the index itself (see Index.Validate). Failures wrap
// ErrVerify.
func (l *Loader) Load(ctx context.Context, src Source) (*Catalog, error) {
	cat := &Catalog{Source: src, client: l.HTTP}
	if cat.client == nil {
		cat.client = http.DefaultClient
	}
	var indexData, sigData []byte
	var err error
	if src.IsRemote() {
		base, perr := url.Parse(src.Location)
		if perr != nil || base.Host == "" {
			return nil, fmt.Errorf("catalog %s: bad URL %q", src.Name, src.Location)
		}
		if !strings.HasSuffix(base.Path, "/") {
			base.Path += "/"
		}
		base.RawQuery, base.Fragment = "", ""
		cat.base = base
		cache := l.cachePath(src)
		if l.Offline {
			if cache == "" {
				return nil, fmt.Errorf("catalog %s: --offline needs a cache directory", src.Name)
			}
			indexData, err = os.ReadFile(filepath.Join(cache, "index.json"))
			if err == nil {
				sigData, err = os.ReadFile(filepath.Join(cache, "index.json.sig"))
			}
			if err != nil {
				return nil, fmt.Errorf("catalog %s: offline and no cached index: %w", src.Name, err)
			}
		} else {
			indexData, err = cat.fetch(ctx, base.ResolveReference(&url.URL{Path: "index.json"}).String(), MaxIndexBytes)
			if err == nil {
				sigData, err = cat.fetch(ctx, base.ResolveReference(&url.URL{Path: "index.json.sig"}).String(), 4096)
			}
			if err != nil {
				return nil, fmt.Errorf("catalog %s: %w", src.Name, err)
			}
		}
		if err := l.verify(cat, indexData, sigData); err != nil {
			return nil, err
		}
		if cache != "" && !l.Offline {
			if err := os.MkdirAll(cache, 0o755); err == nil {
				writeFileAtomic(filepath.Join(cache, "index.json"), indexData, 0o644)
				writeFileAtomic(filepath.Join(cache, "index.json.sig"), sigData, 0o644)
			}
		}
		return cat, nil
	}
	dir, err := filepath.Abs(src.Location)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", src.Name, err)
	}
	cat.dir = dir
	if indexData, err = readLimited(filepath.Join(dir, "index.json"), MaxIndexBytes); err == nil {
		sigData, err = readLimited(filepath.Join(dir, "index.json.sig"), 4096)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", src.Name, err)
	}
	if err := l.verify(cat, indexData, sigData); err != nil {
		return nil, err
	}
	return cat, nil
}

func (l *Loader) verify(cat *Catalog, indexData, sigData []byte) error {
	src := cat.Source
	sig, err := ParseSignature(sigData)
	if err != nil {
		return fmt.Errorf("catalog %s: %w", src.Name, err)
	}
	var key PublicKey
	switch {
	case src.Key != nil:
		if sig.KeyID != src.Key.KeyID() {
			return fmt.Errorf("catalog %s: %w: index signed by key %s, but the catalog's key is %s", src.Name, ErrVerify, sig.KeyID, src.Key.KeyID())
		}
		key = src.Key
	default:
		k, ok := l.Trust.Key(sig.KeyID)
		if err := l.Trust.Usable(sig.KeyID, "index"); err != nil {
			return fmt.Errorf("catalog %s: %w", src.Name, err)
		}
		if !ok {
			return fmt.Errorf("catalog %s: %w", src.Name, untrusted{fmt.Sprintf("index signed by key %s, which is not trusted (trust it with junction hub trust add, or set the catalog's key)", sig.KeyID)})
		}
		key = k
	}
	if err := verifySig(key, indexMessage(indexData), sig.Signature); err != nil {
		return fmt.Errorf("catalog %s: %w: index.json does not match its signature (tampered or partial index): %v", src.Name, ErrVerify, err)
	}
	ix, err := ParseIndex(indexData)
	if err != nil {
		return fmt.Errorf("catalog %s: %w", src.Name, err)
	}
	cat.Index, cat.Signer = ix, sig.KeyID
	return nil
}

func (l *Loader) cachePath(src Source) string {
	if l.CacheDir == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(src.Location))
	return filepath.Join(l.CacheDir, hex.EncodeToString(sum[:8]))
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrVerify, path, limit)
	}
	return b, nil
}

func (c *Catalog) fetch(ctx context.Context, u string, limit int64) ([]byte, error) {
	body, _, err := c.get(ctx, u)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrVerify, u, limit)
	}
	return b, nil
}

func (c *Catalog) get(ctx context.Context, u string) (io.ReadCloser, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return resp.Body, resp.ContentLength, nil
}

// ArtifactLocation resolves an artifact URL against the catalog: a URL
// for a remote catalog or an absolute artifact URL, else a file path
// inside the catalog directory.
func (c *Catalog) ArtifactLocation(a Artifact) (string, error) {
	if err := checkArtifactURL(a.URL); err != nil {
		return "", fmt.Errorf("%w: artifact url: %v", ErrVerify, err)
	}
	u, _ := url.Parse(a.URL)
	if u.IsAbs() {
		return u.String(), nil
	}
	if c.base != nil {
		r := c.base.ResolveReference(u)
		if !strings.HasPrefix(r.Path, c.base.Path) || r.Host != c.base.Host {
			return "", fmt.Errorf("%w: artifact url %q leaves the catalog", ErrVerify, a.URL)
		}
		return r.String(), nil
	}
	p := filepath.Join(c.dir, filepath.FromSlash(u.Path))
	if rel, err := filepath.Rel(c.dir, p); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: artifact url %q leaves the catalog", ErrVerify, a.URL)
	}
	return p, nil
}

// openArtifact opens an artifact for reading, returning the length the
// server declares (-1 if unknown).
func (c *Catalog) openArtifact(ctx context.Context, a Artifact, offline bool) (io.ReadCloser, int64, error) {
	loc, err := c.ArtifactLocation(a)
	if err != nil {
		return nil, 0, err
	}
	if strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://") {
		if offline {
			return nil, 0, errors.New("offline: cannot download " + loc)
		}
		return c.get(ctx, loc)
	}
	f, err := os.Open(loc)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}
