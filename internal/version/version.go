// Package version parses semantic versions (1.2.3, 1.2.3-rc.1) and the
// constraints connector definitions and the hub accept: an exact version,
// ^1.2 (compatible: same major, or same minor below 1.0), ~1.2 (same minor),
// comparisons (>=1.2.0, <2), and comma-separated conjunctions of these.
package version

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a parsed semantic version.
type Version struct {
	Major, Minor, Patch int
	Pre                 string
}

// Parse parses MAJOR.MINOR.PATCH with an optional -prerelease and +build
// (ignored). A leading "v" is accepted.
func Parse(s string) (Version, error) {
	v, n, err := parsePartial(s)
	if err != nil {
		return Version{}, err
	}
	if n != 3 {
		return Version{}, fmt.Errorf("version %q: want MAJOR.MINOR.PATCH", s)
	}
	return v, nil
}

// parsePartial parses 1, 1.2 or 1.2.3[-pre], returning how many numbers it
// had.
func parsePartial(s string) (Version, int, error) {
	orig := s
	s = strings.TrimPrefix(s, "v")
	s, _, _ = strings.Cut(s, "+")
	var v Version
	s, v.Pre, _ = strings.Cut(s, "-")
	parts := strings.Split(s, ".")
	if len(parts) > 3 || s == "" {
		return Version{}, 0, fmt.Errorf("version %q: want MAJOR.MINOR.PATCH", orig)
	}
	nums := []*int{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || (len(p) > 1 && p[0] == '0') {
			return Version{}, 0, fmt.Errorf("version %q: %q is not a number", orig, p)
		}
		*nums[i] = n
	}
	return v, len(parts), nil
}

func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if v.Pre != "" {
		s += "-" + v.Pre
	}
	return s
}

// Compare returns -1, 0 or 1 as v is older than, equal to or newer than w.
// A prerelease is older than its release.
func (v Version) Compare(w Version) int {
	for _, d := range [][2]int{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case v.Pre == w.Pre:
		return 0
	case v.Pre == "":
		return 1
	case w.Pre == "":
		return -1
	case v.Pre < w.Pre:
		return -1
	}
	return 1
}

// Constraint is a set of acceptable versions.
type Constraint struct {
	text  string
	terms []term
	exact bool
}

type term struct {
	op string // =, >=, >, <=, <
	v  Version
}

// ParseConstraint parses a constraint. The empty string accepts any
// version.
func ParseConstraint(s string) (Constraint, error) {
	c := Constraint{text: s}
	s = strings.TrimSpace(s)
	if s == "" || s == "*" || s == "latest" {
		return c, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		op := ""
		for _, o := range []string{">=", "<=", ">", "<", "=", "^", "~"} {
			if strings.HasPrefix(part, o) {
				op, part = o, strings.TrimSpace(part[len(o):])
				break
			}
		}
		v, n, err := parsePartial(part)
		if err != nil {
			return Constraint{}, fmt.Errorf("constraint %q: %w", c.text, err)
		}
		switch op {
		case "^":
			upper := Version{Major: v.Major + 1}
			if v.Major == 0 && n >= 2 {
				upper = Version{Minor: v.Minor + 1}
			}
			c.terms = append(c.terms, term{">=", v}, term{"<", upper})
		case "~":
			upper := Version{Major: v.Major, Minor: v.Minor + 1}
			if n == 1 {
				upper = Version{Major: v.Major + 1}
			}
			c.terms = append(c.terms, term{">=", v}, term{"<", upper})
		case "", "=":
			if n == 3 {
				c.terms = append(c.terms, term{"=", v})
				c.exact = len(strings.Split(s, ",")) == 1
				continue
			}
			// 1 or 1.2 means any 1.x or 1.2.x.
			upper := Version{Major: v.Major + 1}
			if n == 2 {
				upper = Version{Major: v.Major, Minor: v.Minor + 1}
			}
			c.terms = append(c.terms, term{">=", v}, term{"<", upper})
		default:
			c.terms = append(c.terms, term{op, v})
		}
	}
	return c, nil
}

// Exact reports whether the constraint names one exact version.
func (c Constraint) Exact() bool { return c.exact }

func (c Constraint) String() string { return c.text }

// Allows reports whether v satisfies the constraint. Prereleases satisfy
// only a constraint that names a prerelease explicitly.
func (c Constraint) Allows(v Version) bool {
	if v.Pre != "" && !c.mentionsPre() {
		return false
	}
	for _, t := range c.terms {
		cmp := v.Compare(t.v)
		ok := false
		switch t.op {
		case "=":
			ok = cmp == 0
		case ">=":
			ok = cmp >= 0
		case ">":
			ok = cmp > 0
		case "<=":
			ok = cmp <= 0
		case "<":
			ok = cmp < 0
		}
		if !ok {
			return false
		}
	}
	return true
}

func (c Constraint) mentionsPre() bool {
	for _, t := range c.terms {
		if t.v.Pre != "" {
			return true
		}
	}
	return false
}

// Newest returns the index of the newest of versions that c allows, or -1.
// Unparsable versions are skipped.
func (c Constraint) Newest(versions []string) int {
	best := -1
	var bestV Version
	for i, s := range versions {
		v, err := Parse(s)
		if err != nil || !c.Allows(v) {
			continue
		}
		if best < 0 || v.Compare(bestV) > 0 {
			best, bestV = i, v
		}
	}
	return best
}
