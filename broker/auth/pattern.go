package auth

import (
	"errors"
	"fmt"
	"strings"
)

// MaxPatternLen bounds a name pattern.
const MaxPatternLen = 256

// ErrBadPattern is matched by every pattern parse error.
var ErrBadPattern = errors.New("bad name pattern")

// Pattern matches station or group names: name characters
// ([a-zA-Z0-9._-]) and "*", which matches any run of them, so "orders.*"
// matches "orders.eu" and "orders.eu.returns", and "*" matches every name.
type Pattern struct{ s string }

// ParsePattern parses a name pattern.
func ParsePattern(s string) (Pattern, error) {
	if s == "" {
		return Pattern{}, fmt.Errorf("%w: empty", ErrBadPattern)
	}
	if len(s) > MaxPatternLen {
		return Pattern{}, fmt.Errorf("%w: longer than %d bytes", ErrBadPattern, MaxPatternLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '*' || c == '.' || c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		return Pattern{}, fmt.Errorf("%w %q: character %q at %d; use letters, digits, '.', '_', '-' and '*'", ErrBadPattern, s, c, i)
	}
	for strings.Contains(s, "**") {
		s = strings.ReplaceAll(s, "**", "*")
	}
	return Pattern{s: s}, nil
}

// String returns the pattern's text.
func (p Pattern) String() string { return p.s }

// Match reports whether name matches the pattern. It runs in time
// proportional to len(name) times the number of stars.
func (p Pattern) Match(name string) bool {
	pat := p.s
	if pat == "" {
		return false
	}
	// Greedy wildcard matching with one backtrack point: the last star.
	var pi, ni int
	star, mark := -1, 0
	for ni < len(name) {
		switch {
		case pi < len(pat) && pat[pi] == '*':
			star, mark = pi, ni
			pi++
		case pi < len(pat) && pat[pi] == name[ni]:
			pi++
			ni++
		case star >= 0:
			pi = star + 1
			mark++
			ni = mark
		default:
			return false
		}
	}
	for pi < len(pat) && pat[pi] == '*' {
		pi++
	}
	return pi == len(pat)
}
