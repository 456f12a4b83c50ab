// Package suggest finds the known name a mistyped one was probably meant
// to be, for "did you mean" hints in error messages. It is part of the sdk
// module so that the broker's and the connectors' config errors hint alike.
package suggest

import (
	"slices"
	"strings"
)

// Closest returns the name in known closest to got (case-insensitively,
// by edit distance), or "" when none is close enough to be a likely typo:
// at most a third of got's length and at most 3 edits away. Ties go to
// the name that sorts first.
func Closest(got string, known []string) string {
	limit := min(len(got)/3+1, 3)
	names := slices.Clone(known)
	slices.Sort(names)
	lower := strings.ToLower(got)
	best, bestD := "", limit+1
	for _, n := range names {
		if d := distance(lower, strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
