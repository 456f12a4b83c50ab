package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	rootModule = "github.com/junctionhq/junction"
	sdkModule  = rootModule + "/sdk"
)

// rank orders the root module's top-level folders: a package may import
// packages of lower rank only. connectors and sdk are not ranked: they
// follow their own rule.
var rank = map[string]int{
	"api": 0, "internal": 0,
	"broker": 1,
	"plugin": 2, "catalog": 2, "web": 2,
	"server": 3,
	"cmd":    4,
}

// knownViolations are edges that break the rules today, each with the
// change that removes it. The test fails when one disappears, so the list
// cannot go stale.
var knownViolations = map[string]string{}

// pkg is what go list reports of a package.
type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
}

// list runs go list -json in dir over every package of its module.
func list(t *testing.T, dir string) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports,Error", "./...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list in %s: %v\n%s", dir, err, stderr.Bytes())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Error != nil {
			t.Errorf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatalf("go list in %s found no packages", dir)
	}
	return pkgs
}

// rel returns p's path inside the root module, or false for a package
// outside it (the standard library, other modules, the sdk module).
func rel(p string) (string, bool) {
	if p == sdkModule || strings.HasPrefix(p, sdkModule+"/") {
		return "", false
	}
	r, ok := strings.CutPrefix(p, rootModule+"/")
	return r, ok
}

func top(r string) string {
	t, _, _ := strings.Cut(r, "/")
	return t
}

func under(r, dir string) bool { return r == dir || strings.HasPrefix(r, dir+"/") }

func isSDK(p string) bool { return p == sdkModule || strings.HasPrefix(p, sdkModule+"/") }

// violation says why importer may not import imp (both paths inside the
// root module, importer's relative), or "".
func violation(from, imp string) string {
	to, inRoot := rel(imp)
	if !inRoot {
		return ""
	}
	switch {
	case under(from, "connectors"):
		return "a connector imports only the sdk module"
	case under(to, "connectors"):
		return "nothing imports a connector"
	case (under(from, "catalog") || under(from, "plugin/config")) && under(to, "broker"):
		return "catalog and plugin/config never import broker"
	}
	rf, okf := rank[top(from)]
	rt, okt := rank[top(to)]
	switch {
	case !okf:
		return fmt.Sprintf("top-level folder %s/ has no rank: add it to the rules in internal/archtest", top(from))
	case !okt:
		return fmt.Sprintf("top-level folder %s/ has no rank: add it to the rules in internal/archtest", top(to))
	case rf < rt:
		return fmt.Sprintf("%s/ (rank %d) may not import %s/ (rank %d)", top(from), rf, top(to), rt)
	case rf == rt && rf > 0 && top(from) != top(to):
		return fmt.Sprintf("%s/ and %s/ are peers and may not import each other", top(from), top(to))
	}
	return ""
}

func TestImportRules(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range list(t, filepath.Join("..", "..")) {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		for _, imp := range p.Imports {
			why := violation(from, imp)
			if why == "" {
				continue
			}
			to, _ := rel(imp)
			edge := top2(from) + " -> " + top2(to)
			if _, known := knownViolations[edge]; known {
				seen[edge] = true
				continue
			}
			t.Errorf("%s imports %s: %s", p.ImportPath, imp, why)
		}
	}
	for edge, why := range knownViolations {
		if !seen[edge] {
			t.Errorf("known violation %s (%s) is gone: remove it from knownViolations", edge, why)
		}
	}
}

// top2 shortens a relative path to the part knownViolations names: the
// first two elements.
func top2(r string) string {
	parts := strings.SplitN(r, "/", 3)
	return strings.Join(parts[:min(2, len(parts))], "/")
}

func TestSDKImportsNoRootPackage(t *testing.T) {
	for _, p := range list(t, filepath.Join("..", "..", "sdk")) {
		if !isSDK(p.ImportPath) {
			t.Errorf("package %s is not in the sdk module", p.ImportPath)
		}
		for _, imps := range [][]string{p.Imports, p.TestImports, p.XTestImports} {
			for _, imp := range imps {
				if _, inRoot := rel(imp); inRoot {
					t.Errorf("%s imports %s: the sdk module imports nothing of the root module", p.ImportPath, imp)
				}
			}
		}
	}
}

func TestViolationRules(t *testing.T) {
	for _, tc := range []struct {
		from, imp string
		bad       bool
	}{
		{"broker", rootModule + "/internal/names", false},
		{"broker", rootModule + "/plugin", true},
		{"plugin", rootModule + "/broker", false},
		{"plugin", rootModule + "/catalog", true},
		{"catalog", rootModule + "/broker/seglog", true},
		{"plugin/config", rootModule + "/broker", true},
		{"server", rootModule + "/web", false},
		{"web", rootModule + "/server", true},
		{"cmd/junction", rootModule + "/server", false},
		{"internal/names", rootModule + "/api/junction/v1", false},
		{"internal/names", rootModule + "/broker", true},
		{"connectors/s3", sdkModule + "/connector", false},
		{"connectors/s3", rootModule + "/internal/names", true},
		{"plugin", rootModule + "/connectors/file", true},
		{"newfolder", rootModule + "/broker", true},
		{"plugin", "github.com/hashicorp/go-plugin", false},
	} {
		if got := violation(tc.from, tc.imp) != ""; got != tc.bad {
			t.Errorf("violation(%s, %s) = %q, want bad=%v", tc.from, tc.imp, violation(tc.from, tc.imp), tc.bad)
		}
	}
}
