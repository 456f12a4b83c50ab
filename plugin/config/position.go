package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// pos is a line and column in a definition file.
type pos struct{ line, col int }

// positions maps the dotted path of every key under n ("config.dir",
// "env.TOKEN", "config.paths[1].x") to where it is; "" maps to n itself.
func positions(n *yaml.Node) map[string]pos {
	out := map[string]pos{"": {n.Line, n.Column}}
	var walk func(n *yaml.Node, path string, depth int)
	walk = func(n *yaml.Node, path string, depth int) {
		if depth > 64 { // deeper than any definition; aliases may loop
			return
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if _, dup := out[p]; !dup {
					out[p] = pos{k.Line, k.Column}
				}
				walk(n.Content[i+1], p, depth+1)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				out[p] = pos{c.Line, c.Column}
				walk(c, p, depth+1)
			}
		}
	}
	walk(n, "", 0)
	return out
}

// Pos is where the field at a dotted path ("config.dir", "station") is
// declared. A field that is not in the file (a missing required field) is
// placed at its nearest enclosing block that is ("config:"), and failing
// that at the start of the definition; so every problem has a position.
func (c *Connector) Pos(field string) (line, col int) {
	for {
		if p, ok := c.pos[field]; ok {
			return p.line, p.col
		}
		if field == "" {
			return 1, 1
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			field = ""
		} else {
			field = field[:i]
		}
	}
}

// At returns an Error about field, at its position (see [Connector.Pos]).
func (c *Connector) At(field, msg string) *Error {
	line, col := c.Pos(field)
	return &Error{File: c.File, Line: line, Column: col, Field: field, Msg: msg}
}
