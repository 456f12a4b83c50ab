package version

import "testing"

func TestConstraints(t *testing.T) {
	for _, tc := range []struct {
		c   string
		yes []string
		no  []string
	}{
		{"", []string{"0.1.0", "9.9.9"}, []string{"1.0.0-rc.1"}},
		{"1.2.3", []string{"1.2.3"}, []string{"1.2.4", "1.2.2"}},
		{"^1.2", []string{"1.2.0", "1.9.0"}, []string{"1.1.9", "2.0.0", "2.0.0-rc.1"}},
		{"^0.3", []string{"0.3.0", "0.3.9"}, []string{"0.4.0", "0.2.9"}},
		{"~1.2", []string{"1.2.0", "1.2.9"}, []string{"1.3.0"}},
		{">=1.0, <2", []string{"1.0.0", "1.5.2"}, []string{"0.9.0", "2.0.0"}},
		{"1", []string{"1.0.0", "1.9.9"}, []string{"2.0.0"}},
		{"1.0.0-rc.1", []string{"1.0.0-rc.1"}, []string{"1.0.0"}},
	} {
		c, err := ParseConstraint(tc.c)
		if err != nil {
			t.Fatalf("%q: %v", tc.c, err)
		}
		for _, s := range tc.yes {
			if !c.Allows(mustParse(t, s)) {
				t.Errorf("%q should allow %s", tc.c, s)
			}
		}
		for _, s := range tc.no {
			if c.Allows(mustParse(t, s)) {
				t.Errorf("%q should not allow %s", tc.c, s)
			}
		}
	}
	c, _ := ParseConstraint("^1.0")
	if i := c.Newest([]string{"1.0.0", "1.4.0", "2.0.0", "junk", "1.3.9"}); i != 1 {
		t.Errorf("Newest = %d, want 1", i)
	}
	for _, bad := range []string{"^x", "1.2.3.4", ">=", "01.2"} {
		if _, err := ParseConstraint(bad); err == nil {
			t.Errorf("ParseConstraint(%q) accepted", bad)
		}
	}
	if v, _ := Parse("v1.2.3-rc.1+build"); v.String() != "1.2.3-rc.1" {
		t.Errorf("Parse = %s", v)
	}
}

func mustParse(t *testing.T, s string) Version {
	v, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
