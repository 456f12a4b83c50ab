package auth

import (
	"errors"
	"path"
	"strings"
	"testing"
)

func TestPatternMatch(t *testing.T) {
	cases := []struct {
		pat, name string
		want      bool
	}{
		{"orders", "orders", true},
		{"orders", "orders2", false},
		{"orders.*", "orders.eu", true},
		{"orders.*", "orders.eu.returns", true},
		{"orders.*", "orders", false},
		{"orders.*", "ordersX", false},
		{"*", "anything", true},
		{"*.dlq", "orders.dlq", true},
		{"*.dlq", "orders.dlqx", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"a**", "a", true},
	}
	for _, c := range cases {
		p, err := ParsePattern(c.pat)
		if err != nil {
			t.Fatalf("%q: %v", c.pat, err)
		}
		if got := p.Match(c.name); got != c.want {
			t.Errorf("%q matches %q: %v, want %v", c.pat, c.name, got, c.want)
		}
	}
}

func TestPatternRejects(t *testing.T) {
	for _, s := range []string{"", "orders/eu", "a b", "x?", "[a]", strings.Repeat("a", MaxPatternLen+1), "é"} {
		if _, err := ParsePattern(s); !errors.Is(err, ErrBadPattern) {
			t.Errorf("ParsePattern(%q): %v, want ErrBadPattern", s, err)
		}
	}
}

func TestParseGrant(t *testing.T) {
	for _, s := range []string{"produce:orders.*", "consume:orders:billing-*", "manage:orders", "manage-stations", "manage-connectors", "manage-users"} {
		g, err := ParseGrant(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if g.String() != s {
			t.Errorf("%q round-trips as %q", s, g.String())
		}
	}
	if g, err := ParseGrant("consume:orders"); err != nil || g.String() != "consume:orders:*" {
		t.Errorf("consume without a group pattern: %v %v, want every group", g, err)
	}
	for _, s := range []string{"", "read:orders", "produce", "produce:a:b", "manage-users:x", "consume:a:b:c", "produce:bad/name"} {
		if _, err := ParseGrant(s); !errors.Is(err, ErrBadGrant) {
			t.Errorf("ParseGrant(%q): %v, want ErrBadGrant", s, err)
		}
	}
}

func TestAllows(t *testing.T) {
	gs, err := parseGrants([]string{"produce:orders.*", "consume:orders.*:billing", "manage-connectors"})
	if err != nil {
		t.Fatal(err)
	}
	id := &Identity{grants: gs}
	checks := []struct {
		a              Action
		station, group string
		want           bool
	}{
		{Produce, "orders.eu", "", true},
		{Produce, "payments", "", false},
		{Consume, "orders.eu", "billing", true},
		{Consume, "orders.eu", "other", false},
		{Manage, "orders.eu", "", false},
		{ManageConnectors, "", "", true},
		{ManageUsers, "", "", false},
	}
	for _, c := range checks {
		if got := id.Allows(c.a, c.station, c.group); got != c.want {
			t.Errorf("Allows(%s, %s, %s) = %v, want %v", c.a, c.station, c.group, got, c.want)
		}
	}
	narrow, _ := parseGrants([]string{"produce:orders.eu"})
	id.tokenGrants = narrow
	if id.Allows(Produce, "orders.us", "") || !id.Allows(Produce, "orders.eu", "") {
		t.Error("token grants do not narrow the user's")
	}
}

// FuzzPattern checks that the pattern parser accepts only name characters
// and stars, and that matching agrees with path.Match on names (which have
// no '/' and no other metacharacter).
func FuzzPattern(f *testing.F) {
	for _, s := range []string{"orders.*", "*", "a*b*c", "**", "x", "orders/eu", "a?b"} {
		f.Add(s, "orders.eu")
	}
	f.Fuzz(func(t *testing.T, pat, name string) {
		p, err := ParsePattern(pat)
		if err != nil {
			return
		}
		if strings.ContainsAny(pat, "/?[]\\") {
			t.Fatalf("accepted %q", pat)
		}
		if len(name) > 512 || strings.ContainsAny(name, "/*?[]\\") {
			return
		}
		want, err := path.Match(p.String(), name)
		if err != nil {
			t.Fatalf("path.Match(%q): %v", p.String(), err)
		}
		if got := p.Match(name); got != want {
			t.Fatalf("%q matches %q: %v, path.Match says %v", pat, name, got, want)
		}
	})
}

// FuzzGrant checks that every accepted grant prints back to a form that
// parses to the same grant.
func FuzzGrant(f *testing.F) {
	for _, s := range []string{"produce:orders.*", "consume:a:b*", "manage-users", "manage:x", "consume:a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGrant(s)
		if err != nil {
			return
		}
		g2, err := ParseGrant(g.String())
		if err != nil || g2 != g {
			t.Fatalf("%q -> %q -> %v %v", s, g.String(), g2, err)
		}
	})
}
