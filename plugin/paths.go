package plugin

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/junctionhq/junction/plugin/config"
	"github.com/junctionhq/junction/sdk/connector"
)

// pathProblems reports every config field the plugin's spec marks as a
// path whose value lies outside roots (nil roots: no limit). A glob is
// judged by the directory before its first metacharacter; symbolic links
// of the existing part of a path are followed, so a link inside a root
// does not lead out of it.
func pathProblems(def *config.Connector, spec connector.Spec, roots []string) config.Errors {
	if roots == nil {
		return nil
	}
	var out config.Errors
	for _, f := range spec.Fields {
		if !f.Path {
			continue
		}
		v, ok := lookupPath(def.Config, f.Name)
		if !ok || v == "" {
			continue
		}
		if err := withinRoots(v, roots); err != nil {
			out = append(out, &config.Error{File: def.File, Line: def.ConfigLines[f.Name], Field: "config." + f.Name, Msg: err.Error()})
		}
	}
	return out
}

func lookupPath(cfg map[string]any, dotted string) (string, bool) {
	var cur any = cfg
	for _, part := range strings.Split(dotted, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		if cur, ok = m[part]; !ok {
			return "", false
		}
	}
	s, ok := cur.(string)
	return s, ok
}

// ErrPathNotAllowed is matched by the error for a path outside the roots.
var ErrPathNotAllowed = errors.New("path outside the directories connectors may use")

// withinRoots checks that p (a path or glob) resolves inside one of roots.
func withinRoots(p string, roots []string) error {
	static := p
	if i := strings.IndexAny(p, "*?[\\"); i >= 0 {
		static = filepath.Dir(p[:i] + "x")
	}
	resolved, err := resolve(static)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	for _, r := range roots {
		rr, err := resolve(r)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(rr, resolved); err == nil && (rel == "." || filepath.IsLocal(rel)) {
			return nil
		}
	}
	return fmt.Errorf("%s is outside the directories this broker lets connectors use (%s); the server's --file-roots sets them: %w",
		p, strings.Join(roots, ", "), ErrPathNotAllowed)
}

// resolve makes p absolute and follows the symbolic links of its longest
// existing prefix.
func resolve(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	var rest []string
	cur := abs
	for {
		r, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(append([]string{r}, rest...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = append([]string{filepath.Base(cur)}, rest...)
		cur = parent
	}
}
