package schema

import (
	"fmt"
	"strings"
)

// Compatibility is a schema's compatibility mode: which earlier versions a
// new version must stay compatible with, and in which direction. The modes
// are the Confluent Schema Registry's.
type Compatibility string

// Compatibility modes. Backward: consumers using the new version can read
// data written with the previous one. Forward: consumers using the
// previous version can read data written with the new one. Full: both.
// The transitive modes check against every earlier version, not only the
// latest.
const (
	CompatNone               Compatibility = "none"
	CompatBackward           Compatibility = "backward"
	CompatBackwardTransitive Compatibility = "backward_transitive"
	CompatForward            Compatibility = "forward"
	CompatForwardTransitive  Compatibility = "forward_transitive"
	CompatFull               Compatibility = "full"
	CompatFullTransitive     Compatibility = "full_transitive"
)

// Modes lists every compatibility mode.
var Modes = []Compatibility{CompatNone, CompatBackward, CompatBackwardTransitive, CompatForward, CompatForwardTransitive, CompatFull, CompatFullTransitive}

// ParseCompatibility parses a mode name, case-insensitively and with - or _.
func ParseCompatibility(s string) (Compatibility, error) {
	c := Compatibility(strings.ReplaceAll(strings.ToLower(s), "-", "_"))
	for _, m := range Modes {
		if c == m {
			return c, nil
		}
	}
	names := make([]string, len(Modes))
	for i, m := range Modes {
		names[i] = string(m)
	}
	return "", fmt.Errorf("unknown compatibility mode %q (use %s)", s, strings.Join(names, ", "))
}

// CheckMode reports whether mode applies to schemas of type t: GraphQL
// has no compatibility semantics, so only none.
func CheckMode(t Type, mode Compatibility) error {
	if t == GraphQL && mode != CompatNone {
		return errGraphQLCompat
	}
	return nil
}

func (c Compatibility) backward() bool {
	return c == CompatBackward || c == CompatBackwardTransitive || c == CompatFull || c == CompatFullTransitive
}

func (c Compatibility) forward() bool {
	return c == CompatForward || c == CompatForwardTransitive || c == CompatFull || c == CompatFullTransitive
}

func (c Compatibility) transitive() bool {
	return c == CompatBackwardTransitive || c == CompatForwardTransitive || c == CompatFullTransitive
}

// Version is an earlier version of a schema, for CheckCompatibility.
type Version struct {
	Number int
	Schema *Schema
}

// Change is one breaking change between a new schema and an earlier
// version.
type Change struct {
	// Version is the earlier version the new one breaks with.
	Version int `json:"version"`
	// Direction is "backward" (the new version cannot read data written
	// with the earlier one) or "forward" (the earlier version cannot read
	// data written with the new one).
	Direction string `json:"direction"`
	// Path locates the change in the schema: a JSON pointer into a JSON
	// Schema instance, or a field path for Avro and Protobuf.
	Path string `json:"path"`
	// Reason says what changed and why it breaks.
	Reason string `json:"reason"`
}

func (c Change) String() string {
	p := c.Path
	if p == "" {
		p = "/"
	}
	return fmt.Sprintf("%s with version %d at %s: %s", c.Direction, c.Version, p, c.Reason)
}

// Report is the outcome of CheckCompatibility.
type Report struct {
	Mode    Compatibility `json:"mode"`
	Changes []Change      `json:"changes,omitempty"`
}

// Compatible reports whether the new version breaks nothing.
func (r *Report) Compatible() bool { return len(r.Changes) == 0 }

// String lists every breaking change, one per line.
func (r *Report) String() string {
	if r.Compatible() {
		return "compatible (" + string(r.Mode) + ")"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "incompatible under %s: %d breaking change(s)", r.Mode, len(r.Changes))
	for _, c := range r.Changes {
		b.WriteString("\n  - ")
		b.WriteString(c.String())
	}
	return b.String()
}

// CheckCompatibility checks next against the earlier versions (oldest
// first) under mode and reports every breaking change. With no earlier
// version, or mode none, everything is compatible.
func CheckCompatibility(mode Compatibility, next *Schema, earlier []Version) (*Report, error) {
	if _, err := ParseCompatibility(string(mode)); err != nil {
		return nil, err
	}
	if err := CheckMode(next.Type(), mode); err != nil {
		return nil, err
	}
	r := &Report{Mode: mode}
	if mode == CompatNone || len(earlier) == 0 {
		return r, nil
	}
	against := earlier
	if !mode.transitive() {
		against = earlier[len(earlier)-1:]
	}
	for _, prev := range against {
		if prev.Schema.Type() != next.Type() {
			r.Changes = append(r.Changes, Change{Version: prev.Number, Direction: "backward", Reason: fmt.Sprintf("schema type changed from %s to %s", prev.Schema.Type(), next.Type())})
			continue
		}
		if mode.backward() {
			for _, c := range readable(next, prev.Schema) {
				c.Version, c.Direction = prev.Number, "backward"
				r.Changes = append(r.Changes, c)
			}
		}
		if mode.forward() {
			for _, c := range readable(prev.Schema, next) {
				c.Version, c.Direction = prev.Number, "forward"
				r.Changes = append(r.Changes, c)
			}
		}
	}
	return r, nil
}

// readable lists what stops a consumer using reader from reading data
// written with writer.
func readable(reader, writer *Schema) []Change {
	var out []Change
	switch r := reader.v.(type) {
	case *jsonValidator:
		jsonNarrowing(writer.v.(*jsonValidator).doc, r.doc, "", &out)
	case *avroValidator:
		c := avroCompat{seen: make(map[[2]string]bool)}
		c.check(r.sch, writer.v.(*avroValidator).sch, "")
		out = c.out
	case *protoValidator:
		c := protoCompat{seen: make(map[[2]string]bool)}
		c.check(r.desc, writer.v.(*protoValidator).desc, "")
		out = c.out
	}
	return out
}
