package config

import (
	"regexp"
	"testing"
)

func TestPosPlacesEveryField(t *testing.T) {
	src := "name: a\nconnector: file\nkind: sink\nstation: s\nenv:\n  TZ: UTC\nconfig:\n  dir: /x\n  rotate:\n    max_bytes: 1MiB\n  paths: [a, b]\n"
	c, err := Parse("c.yaml", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string][2]int{
		"station": {4, 1}, "env.TZ": {6, 3}, "config.dir": {8, 3}, "config.rotate.max_bytes": {10, 5},
		"config.paths[1]": {11, 14},
		// Not in the file: the nearest enclosing block that is.
		"config.bucket": {7, 1}, "config.rotate.compress": {9, 3}, "dlq": {1, 1}, "config.paths[5]": {11, 3},
	} {
		if l, c := c.Pos(field); l != want[0] || c != want[1] {
			t.Errorf("Pos(%q) = %d:%d, want %d:%d", field, l, c, want[0], want[1])
		}
	}
	if got := c.At("config.bucket", "required").Error(); got != "c.yaml:7:1: config.bucket: required" {
		t.Errorf("At: %q", got)
	}
}

// Every parse error carries file:line:col.
func TestParseErrorsAlwaysHaveAPosition(t *testing.T) {
	located := regexp.MustCompile(`^c\.yaml:[0-9]+:[0-9]+: `)
	for _, src := range []string{"", "name: a\nkind: x\n  bad: 1\n", "a: 1\n---\nb: 2\n", "name: a\n", "- x\n", "name: a\nconnector: f\nkind: sink\nstation: s\nbogus: 1\n"} {
		_, err := Parse("c.yaml", []byte(src), nil)
		es, ok := err.(Errors)
		if !ok || len(es) == 0 {
			t.Fatalf("%q: %v", src, err)
		}
		for _, e := range es {
			if !located.MatchString(e.Error()) {
				t.Errorf("%q: error without a position: %q", src, e.Error())
			}
		}
	}
}
