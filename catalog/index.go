package catalog

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/names"
	"github.com/junctionhq/junction/internal/version"
	"github.com/junctionhq/junction/sdk/connector"
)

// FormatVersion is the index format this package reads and writes. An
// index with a newer format_version is refused rather than half-understood.
const FormatVersion = 1

// MaxIndexBytes bounds the index.json a catalog may serve.
const MaxIndexBytes = 32 << 20

// MaxArtifactBytes bounds an artifact's declared size.
const MaxArtifactBytes = 1 << 30

// Index is a catalog's index.json.
type Index struct {
	FormatVersion int         `json:"format_version"`
	Connectors    []Connector `json:"connectors"`
}

// Connector is one connector in an index, with every published version.
type Connector struct {
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	Kinds       []connector.Kind `json:"kinds"`
	Homepage    string           `json:"homepage,omitempty"`
	License     string           `json:"license,omitempty"`
	// Publisher is the KeyID of the key that signs every artifact of this
	// connector.
	Publisher string `json:"publisher"`
	// Versions are sorted newest first.
	Versions []Release `json:"versions"`
}

// Release is one published version of a connector.
type Release struct {
	Version  string    `json:"version"`
	Released time.Time `json:"released"`
	// MinJunction is the oldest Junction release that can run it.
	MinJunction     string `json:"min_junction"`
	ProtocolVersion uint32 `json:"protocol_version"`
	Yanked          bool   `json:"yanked,omitempty"`
	YankReason      string `json:"yank_reason,omitempty"`
	// Spec is what the plugin prints for --spec: config docs without a
	// download.
	Spec connector.Spec `json:"spec"`
	// Platforms maps "GOOS/GOARCH" to the build for it.
	Platforms map[string]Artifact `json:"platforms"`
}

// Artifact is one downloadable plugin binary.
type Artifact struct {
	// URL is absolute (http or https) or relative to the index.
	URL    string `json:"url"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Signature is base64 ed25519 over ArtifactMessage by the publisher.
	Signature string `json:"signature"`
}

// Signature is index.json.sig: who signed the index bytes, and the
// signature.
type Signature struct {
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"`
}

var (
	keyIDRE    = regexp.MustCompile(`^[0-9a-f]{16}$`)
	sha256RE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	platformRE = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9]+$`)
	semverRE   = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)
)

// ValidName reports whether s is a connector name a catalog may use:
// lower case letters, digits and inner dashes, at most 64 characters.
func ValidName(s string) bool { return names.ValidPlugin(s) }

// validVersion accepts MAJOR.MINOR.PATCH[-PRE] only (no build metadata,
// no leading v), so a version is safe as a path element.
func validVersion(s string) bool { return len(s) <= 64 && semverRE.MatchString(s) }

// ParseIndex decodes index.json and validates it; see Validate. Unknown
// fields are ignored so that a format_version 1 index can grow optional
// fields.
func ParseIndex(data []byte) (*Index, error) {
	if len(data) > MaxIndexBytes {
		return nil, fmt.Errorf("%w: index is %d bytes, over the %d limit", ErrVerify, len(data), MaxIndexBytes)
	}
	var probe struct {
		FormatVersion *int `json:"format_version"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%w: index: %v", ErrVerify, err)
	}
	if probe.FormatVersion == nil {
		return nil, fmt.Errorf("%w: index: no format_version", ErrVerify)
	}
	if *probe.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%w: index format_version %d, this junction reads %d", ErrVerify, *probe.FormatVersion, FormatVersion)
	}
	var ix Index
	if err := json.Unmarshal(data, &ix); err != nil {
		return nil, fmt.Errorf("%w: index: %v", ErrVerify, err)
	}
	if err := ix.Validate(); err != nil {
		return nil, err
	}
	return &ix, nil
}

// Validate checks everything an installer relies on: names in
// [a-z0-9-], strict semantic versions, unique names, versions and
// platforms, specs that match their entry, digests and signatures that are
// well formed, sizes in range, and artifact URLs that are http(s) or
// relative paths without "..", backslashes or a leading "/". It returns
// every problem at once, wrapping ErrVerify.
func (ix *Index) Validate() error {
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if ix.FormatVersion != FormatVersion {
		add("format_version %d, want %d", ix.FormatVersion, FormatVersion)
	}
	names := map[string]bool{}
	for i, c := range ix.Connectors {
		at := fmt.Sprintf("connectors[%d]", i)
		if !ValidName(c.Name) {
			add("%s: name %q: want lower case letters, digits and dashes", at, c.Name)
		} else {
			at = "connector " + c.Name
		}
		if names[c.Name] {
			add("%s: listed twice", at)
		}
		names[c.Name] = true
		if !keyIDRE.MatchString(c.Publisher) {
			add("%s: publisher %q: want a 16 hex digit key id", at, c.Publisher)
		}
		for _, k := range c.Kinds {
			if k != connector.KindSink && k != connector.KindSource {
				add("%s: unknown kind %q", at, k)
			}
		}
		if c.Homepage != "" {
			if u, err := url.Parse(c.Homepage); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
				add("%s: homepage %q: want an http(s) URL", at, c.Homepage)
			}
		}
		if len(c.Versions) == 0 {
			add("%s: no versions", at)
		}
		seen := map[string]bool{}
		for j, r := range c.Versions {
			rat := fmt.Sprintf("%s versions[%d]", at, j)
			if !validVersion(r.Version) {
				add("%s: version %q: want MAJOR.MINOR.PATCH[-PRE]", rat, r.Version)
				continue
			}
			rat = at + "@" + r.Version
			if seen[r.Version] {
				add("%s: listed twice", rat)
			}
			seen[r.Version] = true
			if !validVersion(r.MinJunction) {
				add("%s: min_junction %q: want MAJOR.MINOR.PATCH", rat, r.MinJunction)
			}
			if r.ProtocolVersion == 0 {
				add("%s: no protocol_version", rat)
			}
			if r.Spec.Name != c.Name || r.Spec.Version != r.Version {
				add("%s: spec is for %s@%s", rat, r.Spec.Name, r.Spec.Version)
			}
			if r.Spec.ProtocolVersion != r.ProtocolVersion {
				add("%s: spec protocol_version %d, entry says %d", rat, r.Spec.ProtocolVersion, r.ProtocolVersion)
			}
			if err := r.Spec.Validate(); err != nil {
				add("%s: spec: %v", rat, err)
			}
			if len(r.Platforms) == 0 {
				add("%s: no platforms", rat)
			}
			for p, a := range r.Platforms {
				pat := rat + " " + p
				if !platformRE.MatchString(p) || len(p) > 64 {
					add("%s: platform %q: want GOOS/GOARCH", rat, p)
					continue
				}
				if a.Size <= 0 || a.Size > MaxArtifactBytes {
					add("%s: size %d out of range", pat, a.Size)
				}
				if !sha256RE.MatchString(a.SHA256) {
					add("%s: sha256: want 64 lower case hex digits", pat)
				}
				if sig, err := base64.StdEncoding.DecodeString(a.Signature); err != nil || len(sig) != 64 {
					add("%s: signature: want base64 of 64 bytes", pat)
				}
				if err := checkArtifactURL(a.URL); err != nil {
					add("%s: url: %v", pat, err)
				}
			}
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: invalid index: %s", ErrVerify, strings.Join(probs, "; "))
	}
	return nil
}

// checkArtifactURL accepts an absolute http(s) URL, or a relative path
// that stays inside the catalog.
func checkArtifactURL(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	if strings.ContainsAny(s, "\\\x00\r\n") {
		return fmt.Errorf("%q has a backslash or control character", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "" || u.Host != "" {
		if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%q: want http(s) or a relative path", s)
		}
		if u.User != nil {
			return fmt.Errorf("%q: credentials in a URL", s)
		}
		return nil
	}
	if u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%q: a relative URL may not have a query or fragment", s)
	}
	if strings.HasPrefix(u.Path, "/") {
		return fmt.Errorf("%q: an absolute path; want one relative to the index", s)
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == ".." || seg == "." || seg == "" {
			return fmt.Errorf("%q: path has an empty, . or .. element", s)
		}
	}
	return nil
}

// Encode returns the index as canonical index.json: connectors sorted by
// name, versions newest first, two-space indented, with a final newline.
func (ix *Index) Encode() ([]byte, error) {
	ix.sort()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ix); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (ix *Index) sort() {
	slices.SortFunc(ix.Connectors, func(a, b Connector) int { return strings.Compare(a.Name, b.Name) })
	for i := range ix.Connectors {
		slices.SortFunc(ix.Connectors[i].Versions, func(a, b Release) int {
			va, _ := version.Parse(a.Version)
			vb, _ := version.Parse(b.Version)
			return vb.Compare(va)
		})
	}
}

// Lookup returns the connector called name, or nil.
func (ix *Index) Lookup(name string) *Connector {
	for i := range ix.Connectors {
		if ix.Connectors[i].Name == name {
			return &ix.Connectors[i]
		}
	}
	return nil
}

// Release returns the connector's release v, or nil.
func (c *Connector) Release(v string) *Release {
	for i := range c.Versions {
		if c.Versions[i].Version == v {
			return &c.Versions[i]
		}
	}
	return nil
}

// SignIndex signs the exact bytes of an index.json, returning the
// contents of index.json.sig.
func SignIndex(k PrivateKey, index []byte) []byte {
	sig := Signature{KeyID: k.Public().KeyID(), Signature: base64.StdEncoding.EncodeToString(k.Sign(indexMessage(index)))}
	b, _ := json.MarshalIndent(sig, "", "  ")
	return append(b, '\n')
}

// ParseSignature decodes index.json.sig.
func ParseSignature(data []byte) (Signature, error) {
	var s Signature
	if len(data) > 4096 {
		return s, fmt.Errorf("%w: index.json.sig is %d bytes", ErrVerify, len(data))
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("%w: index.json.sig: %v", ErrVerify, err)
	}
	if !keyIDRE.MatchString(s.KeyID) {
		return s, fmt.Errorf("%w: index.json.sig: key_id %q: want 16 hex digits", ErrVerify, s.KeyID)
	}
	return s, nil
}

// signArtifact fills a's signature for name@version on platform.
func signArtifact(k PrivateKey, name, ver, platform string, a *Artifact) {
	a.Signature = base64.StdEncoding.EncodeToString(k.Sign(ArtifactMessage(name, ver, platform, a.SHA256, a.Size)))
}
