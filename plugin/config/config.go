// Package config reads connector definition files: the YAML that declares
// one connector (which plugin, which station, batching, dead-letter station
// and the plugin's own config), with ${ENV} interpolation for secrets.
//
//	name: orders-to-s3
//	connector: s3@^1.2        # plugin name, optionally @version or @constraint
//	kind: sink                # or source
//	station: orders
//	batch: {max_records: 10000, max_bytes: 8MiB, max_wait: 5s}
//	dlq: orders-dlq           # optional; default <name>.dlq, for rejected records
//	timeout: 1m               # optional; the longest one Write or Read may take
//	node: n2                  # optional; in a cluster, the only node that runs it
//	config:
//	  bucket: analytics
//	  access_key_id: ${AWS_ACCESS_KEY_ID}
//	  region: ${AWS_REGION:-us-east-1}
//
// Errors name the file, line and field. The plugin's config is only
// checked for YAML well-formedness here; the plugin validates it against its
// Spec.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/junctionhq/junction/internal/names"
	"github.com/junctionhq/junction/sdk/suggest"
	"github.com/junctionhq/junction/sdk/units"
)

// Kind is a connector's direction.
type Kind string

// Kinds.
const (
	KindSource Kind = "source"
	KindSink   Kind = "sink"
)

// Batch bounds the records a sink receives per Write.
type Batch struct {
	MaxRecords int           `json:"max_records"`
	MaxBytes   int64         `json:"max_bytes"`
	MaxWait    time.Duration `json:"max_wait"`
}

// Batch defaults.
const (
	DefaultMaxRecords = 10000
	DefaultMaxBytes   = 8 << 20
	DefaultMaxWait    = 5 * time.Second
	DefaultTimeout    = time.Minute
)

// Connector is one parsed connector definition.
type Connector struct {
	Name string `json:"name"`
	// Plugin is the plugin's name; Version its version or constraint
	// (empty for the newest installed).
	Plugin  string `json:"connector"`
	Version string `json:"version,omitempty"`
	Kind    Kind   `json:"kind"`
	Station string `json:"station"`
	Batch   Batch  `json:"batch"`
	// DLQ receives records the connector rejects.
	DLQ string `json:"dlq,omitempty"`
	// Timeout bounds each call into the plugin.
	Timeout time.Duration `json:"timeout"`
	// Node, in a cluster, pins the connector to the node of that id (for
	// connectors that touch one node's disk); empty lets it run on the
	// leader, wherever that is.
	Node string `json:"node,omitempty"`
	// Env is extra environment for the plugin process.
	Env map[string]string `json:"env,omitempty"`
	// Config is the plugin's config after interpolation.
	Config map[string]any `json:"config,omitempty"`
	// ConfigLines maps each config key's dotted path ("rotate.max_bytes")
	// to its line in File, so plugin field errors can be located.
	ConfigLines map[string]int `json:"-"`
	// File is where the definition came from, for messages.
	File string `json:"file,omitempty"`

	// pos locates every key of the file, for Pos.
	pos map[string]pos
	// Templates maps the dotted path of every config string that
	// referenced a variable to its text as written ("${TOKEN}-x"), so
	// what was resolved is not shown back to callers.
	Templates map[string]string `json:"-"`
}

// Error is one problem in a definition, located by file, line and field.
type Error struct {
	File   string
	Line   int
	Column int
	Field  string
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a definition.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Parse parses a definition. file names it in errors; lookupEnv resolves
// ${VAR} references. It returns Errors listing every problem it found.
func Parse(file string, data []byte, lookupEnv func(string) (string, bool)) (*Connector, error) {
	return ParseEnv(file, data, Env{Lookup: lookupEnv})
}

// Env is where ${VAR} references of a definition resolve.
type Env struct {
	// Lookup returns a variable's value and whether it is set.
	Lookup func(string) (string, bool)
	// Where names the environment Lookup reads, for the error about an
	// unset variable ("the broker's connector environment").
	Where string
}

// ParseEnv is Parse with variables resolved in env, whose Where the error
// about an unset variable names.
func ParseEnv(file string, data []byte, env Env) (*Connector, error) {
	p := &parser{file: file, lookupEnv: env.Lookup}
	if env.Where != "" {
		p.envWhere = " in " + env.Where
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: file, Line: 1, Column: 1, Msg: "empty file: a connector definition needs name, connector, kind and station"}}
		}
		return nil, Errors{p.yamlError(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errors{{File: file, Line: extra.Line, Column: max(extra.Column, 1), Msg: "more than one YAML document: put each connector in its own file"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	c := p.connector(root)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	c.File = file
	c.pos = positions(root)
	if c.DLQ == "" {
		c.DLQ = c.Name + ".dlq"
	}
	return c, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *parser) yamlError(err error) *Error {
	// The YAML parser reports a line, not a column.
	e := &Error{File: p.file, Line: 1, Column: 1, Msg: err.Error()}
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		fmt.Sscan(m[1], &e.Line)
		e.Msg = m[2]
	}
	return e
}

type parser struct {
	file      string
	lookupEnv func(string) (string, bool)
	envWhere  string
	templates map[string]string
	errs      Errors
	lines     map[string]int
}

func (p *parser) errorf(n *yaml.Node, field, format string, args ...any) {
	e := &Error{File: p.file, Field: field, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

var topFields = []string{"name", "connector", "kind", "station", "batch", "dlq", "timeout", "node", "env", "config"}

func (p *parser) connector(root *yaml.Node) *Connector {
	c := &Connector{Batch: Batch{MaxRecords: DefaultMaxRecords, MaxBytes: DefaultMaxBytes, MaxWait: DefaultMaxWait}, Timeout: DefaultTimeout}
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "", "want a mapping with name, connector, kind and station")
		return c
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if prev, dup := seen[k.Value]; dup {
			p.errorf(k, k.Value, "repeated (first at line %d)", prev.Line)
			continue
		}
		seen[k.Value] = k
		switch k.Value {
		case "name":
			c.Name = p.name(v, "name")
		case "connector":
			ref := p.str(v, "connector")
			c.Plugin, c.Version, _ = strings.Cut(ref, "@")
			if ref != "" && c.Plugin == "" {
				p.errorf(v, "connector", "want NAME or NAME@VERSION, got %q", ref)
			}
		case "kind":
			switch k := p.str(v, "kind"); k {
			case "source", "sink":
				c.Kind = Kind(k)
			default:
				p.errorf(v, "kind", "want source or sink, got %q", k)
			}
		case "station":
			c.Station = p.name(v, "station")
		case "dlq":
			c.DLQ = p.name(v, "dlq")
		case "node":
			c.Node = p.name(v, "node")
		case "batch":
			p.batch(v, &c.Batch)
		case "timeout":
			s := p.str(v, "timeout")
			d, err := units.ParseDuration(s)
			if err != nil || d <= 0 {
				p.errorf(v, "timeout", "want a duration such as 30s, got %q", s)
				continue
			}
			c.Timeout = d
		case "env":
			c.Env = p.env(v)
		case "config":
			if v.Kind != yaml.MappingNode {
				p.errorf(v, "config", "want a mapping of the connector's settings")
				continue
			}
			p.lines = map[string]int{}
			p.templates = map[string]string{}
			if m, ok := p.value(v, "config").(map[string]any); ok {
				c.Config = m
				c.ConfigLines = p.lines
				if len(p.templates) > 0 {
					c.Templates = p.templates
				}
			}
		default:
			p.errorf(k, k.Value, "unknown field%s (fields: %s)", didYouMean(k.Value, topFields), strings.Join(topFields, ", "))
		}
	}
	for _, r := range [][2]string{{"name", c.Name}, {"connector", c.Plugin}, {"kind", string(c.Kind)}, {"station", c.Station}} {
		f, v := r[0], r[1]
		if v == "" && seen[f] == nil {
			p.errorf(root, f, "required")
		} else if v == "" && !p.reported(f) {
			p.errorf(seen[f], f, "must not be empty")
		}
	}
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
	return c
}

func (p *parser) reported(field string) bool {
	for _, e := range p.errs {
		if e.Field == field {
			return true
		}
	}
	return false
}

func (p *parser) str(n *yaml.Node, field string) string {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, field, "want a string")
		return ""
	}
	return p.interpolate(n, field)
}

func (p *parser) name(n *yaml.Node, field string) string {
	s := p.str(n, field)
	if s != "" && !names.Valid(s) {
		p.errorf(n, field, "%q is not a valid name: use 1 to 128 of a-z A-Z 0-9 . _ -", s)
	}
	return s
}

var batchFields = []string{"max_records", "max_bytes", "max_wait"}

func (p *parser) batch(n *yaml.Node, b *Batch) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "batch", "want a mapping with max_records, max_bytes, max_wait")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := "batch." + k.Value
		s := p.str(v, field)
		if s == "" {
			continue
		}
		switch k.Value {
		case "max_records":
			var x int
			if _, err := fmt.Sscan(s, &x); err != nil || x < 1 || fmt.Sprint(x) != s {
				p.errorf(v, field, "want a positive whole number, got %q", s)
				continue
			}
			b.MaxRecords = x
		case "max_bytes":
			x, err := units.ParseSize(s)
			if err != nil || x < 1 {
				p.errorf(v, field, "want a size such as 8MiB, got %q", s)
				continue
			}
			b.MaxBytes = x
		case "max_wait":
			d, err := units.ParseDuration(s)
			if err != nil || d <= 0 {
				p.errorf(v, field, "want a duration such as 5s, got %q", s)
				continue
			}
			b.MaxWait = d
		default:
			p.errorf(k, field, "unknown field%s (fields: %s)", didYouMean(k.Value, batchFields), strings.Join(batchFields, ", "))
		}
	}
}

func (p *parser) env(n *yaml.Node) map[string]string {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "env", "want a mapping of variable names to values")
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		out[k.Value] = p.str(v, "env."+k.Value)
	}
	return out
}

// value converts a YAML node to plain Go values (map[string]any, []any,
// string, int64, float64, bool, nil), interpolating strings.
func (p *parser) value(n *yaml.Node, field string) any {
	switch n.Kind {
	case yaml.AliasNode:
		return p.value(n.Alias, field)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				p.errorf(k, field, "keys must be strings")
				continue
			}
			if _, dup := m[k.Value]; dup {
				p.errorf(k, field+"."+k.Value, "repeated")
				continue
			}
			if p.lines != nil {
				p.lines[strings.TrimPrefix(field+"."+k.Value, "config.")] = k.Line
			}
			m[k.Value] = p.value(n.Content[i+1], field+"."+k.Value)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			s[i] = p.value(c, fmt.Sprintf("%s[%d]", field, i))
		}
		return s
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return p.interpolate(n, field)
		case "!!null":
			return nil
		case "!!bool", "!!int", "!!float":
			var v any
			if err := n.Decode(&v); err != nil {
				p.errorf(n, field, "%v", err)
			}
			if i, ok := v.(int); ok {
				return int64(i)
			}
			return v
		}
		return p.interpolate(n, field)
	}
	p.errorf(n, field, "unsupported YAML value")
	return nil
}

var envRE = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}|\$\{[^}]*\}?`)

// interpolate expands ${VAR} and ${VAR:-default} in a scalar; $$ is a
// literal $. A variable that is not set (and has no default) is an error.
func (p *parser) interpolate(n *yaml.Node, field string) string {
	s := n.Value
	if !strings.Contains(s, "$") {
		return s
	}
	if p.templates != nil && strings.Contains(s, "${") {
		if path, ok := strings.CutPrefix(field, "config."); ok {
			p.templates[path] = s
		}
	}
	return envRE.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sub := envRE.FindStringSubmatch(m)
		if sub[1] == "" {
			p.errorf(n, field, "bad variable reference %q: want ${NAME} or ${NAME:-default}", m)
			return ""
		}
		v, ok := p.lookupEnv(sub[1])
		if sub[2] != "" {
			if ok && v != "" {
				return v
			}
			return sub[3]
		}
		if ok {
			return v
		}
		p.errorf(n, field, "environment variable %s is not set%s", sub[1], p.envWhere)
		return ""
	})
}

// didYouMean returns ` (did you mean "x"?)` for the closest known name.
func didYouMean(got string, known []string) string {
	if s := suggest.Closest(got, known); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}
