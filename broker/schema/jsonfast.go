package schema

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The fast JSON Schema path: schemas that use only the common keywords
// (type, properties, required, additionalProperties, items, min/max
// bounds, lengths, pattern, enum, const, local $refs) are also compiled
// into a tree that validates a message in one pass over its bytes without
// decoding it, so a valid message costs no allocation. Whatever the fast
// path cannot decide exactly (escaped strings, numbers beyond float64
// precision, deep nesting) and every message it finds invalid go to the
// full validator, which decides and explains: the fast path only ever
// accelerates the common valid case, and a differential fuzz test holds it
// to the full validator's verdicts.

type jtype uint8

const (
	jNull jtype = 1 << iota
	jBool
	jObject
	jArray
	jNumber
	jInteger
	jString
)

type jnode struct {
	never    bool // the false schema
	types    jtype
	ref      *jnode
	props    map[string]*jprop
	small    []jnamed // props as a list, when there are few
	required int      // number of required properties; bits 0..required-1
	addl     *jnode
	addlSet  bool
	items    *jnode
	itemsSet bool
	minItems int
	maxItems int
	minLen   int
	maxLen   int
	bounds   []jbound
	pattern  *regexp.Regexp
	enum     []jconst // allowed values when non-nil
}

type jnamed struct {
	name string
	prop *jprop
}

// lookup finds a property by name without hashing when there are few.
func (n *jnode) lookup(key []byte) (*jprop, bool) {
	if n.small != nil || len(n.props) == 0 {
		for i := range n.small {
			if n.small[i].name == string(key) {
				return n.small[i].prop, true
			}
		}
		return nil, false
	}
	p, ok := n.props[string(key)]
	return p, ok
}

type jprop struct {
	node   *jnode // nil: unconstrained
	reqBit int    // -1 unless required
}

type jbound struct {
	v         float64
	upper     bool
	exclusive bool
}

type jconst struct {
	t jtype // jNull, jBool, jNumber or jString
	s string
	f float64
	b bool
}

// jsonFastCompiler builds a jnode tree from a schema document, or reports
// that the schema needs the full validator.
type jsonFastCompiler struct {
	root  any
	nodes map[string]*jnode // by $ref, so recursive schemas share nodes
	ok    bool
	// formatAnnotation: "format" only annotates (drafts 2019-09 and
	// 2020-12); earlier drafts assert it, which the fast path leaves to
	// the full validator.
	formatAnnotation bool
}

var fastAnnotations = map[string]bool{
	"$schema": true, "$comment": true, "title": true, "description": true, "examples": true,
	"default": true, "deprecated": true, "readOnly": true, "writeOnly": true, "$defs": true, "definitions": true,
}

func compileJSONFast(doc any) *jnode {
	formatAnnotation := true
	if m, ok := doc.(map[string]any); ok {
		if s, ok := m["$schema"].(string); ok {
			switch {
			case strings.Contains(s, "2020-12"), strings.Contains(s, "2019-09"):
			case strings.Contains(s, "draft-07"):
				formatAnnotation = false
			default:
				return nil
			}
		}
	}
	c := &jsonFastCompiler{root: doc, nodes: make(map[string]*jnode), ok: true, formatAnnotation: formatAnnotation}
	n := c.node(doc, 0)
	if !c.ok {
		return nil
	}
	return n
}

func (c *jsonFastCompiler) fail() *jnode {
	c.ok = false
	return nil
}

func (c *jsonFastCompiler) node(v any, depth int) *jnode {
	if !c.ok || depth > 64 {
		return c.fail()
	}
	switch v := v.(type) {
	case bool:
		if v {
			return &jnode{maxItems: -1, maxLen: -1}
		}
		return &jnode{never: true}
	case map[string]any:
		return c.object(v, depth)
	}
	return c.fail()
}

func nonNegInt(v any) (int, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 32)
	return int(i), err == nil && i >= 0
}

func (c *jsonFastCompiler) object(m map[string]any, depth int) *jnode {
	n := &jnode{maxItems: -1, maxLen: -1}
	for k, v := range m {
		switch k {
		case "type":
			for _, t := range strings_(v) {
				switch t {
				case "null":
					n.types |= jNull
				case "boolean":
					n.types |= jBool
				case "object":
					n.types |= jObject
				case "array":
					n.types |= jArray
				case "number":
					n.types |= jNumber
				case "integer":
					n.types |= jInteger
				case "string":
					n.types |= jString
				default:
					return c.fail()
				}
			}
			if n.types == 0 {
				return c.fail()
			}
		case "$ref":
			ref, ok := v.(string)
			if !ok || (ref != "#" && !strings.HasPrefix(ref, "#/")) {
				return c.fail()
			}
			if r, ok := c.nodes[ref]; ok {
				n.ref = r
				continue
			}
			target, _, ok := resolve(c.root, m)
			if !ok {
				return c.fail()
			}
			r := &jnode{}
			c.nodes[ref] = r
			built := c.node(target, depth+1)
			if built == nil {
				return c.fail()
			}
			*r = *built
			n.ref = r
		case "properties":
			props, ok := v.(map[string]any)
			if !ok {
				return c.fail()
			}
			if n.props == nil {
				n.props = make(map[string]*jprop, len(props))
			}
			for name, ps := range props {
				p := n.props[name]
				if p == nil {
					p = &jprop{reqBit: -1}
					n.props[name] = p
				}
				if p.node = c.node(ps, depth+1); p.node == nil {
					return c.fail()
				}
			}
		case "required":
			arr, ok := v.([]any)
			if !ok || len(arr) > 64 {
				return c.fail()
			}
			if n.props == nil {
				n.props = make(map[string]*jprop, len(arr))
			}
			for _, e := range arr {
				name, ok := e.(string)
				if !ok {
					return c.fail()
				}
				p := n.props[name]
				if p == nil {
					p = &jprop{reqBit: -1}
					n.props[name] = p
				}
				if p.reqBit >= 0 {
					continue
				}
				p.reqBit = n.required
				n.required++
			}
		case "additionalProperties":
			if n.addl = c.node(v, depth+1); n.addl == nil {
				return c.fail()
			}
			n.addlSet = true
		case "items":
			if n.items = c.node(v, depth+1); n.items == nil {
				return c.fail()
			}
			n.itemsSet = true
		case "minItems", "maxItems", "minLength", "maxLength":
			i, ok := nonNegInt(v)
			if !ok {
				return c.fail()
			}
			switch k {
			case "minItems":
				n.minItems = i
			case "maxItems":
				n.maxItems = i
			case "minLength":
				n.minLen = i
			case "maxLength":
				n.maxLen = i
			}
		case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
			f, ok := exactNumber(v)
			if !ok {
				return c.fail()
			}
			n.bounds = append(n.bounds, jbound{v: f, upper: strings.HasSuffix(k, "aximum"), exclusive: strings.HasPrefix(k, "exclusive")})
		case "pattern":
			s, ok := v.(string)
			if !ok {
				return c.fail()
			}
			re, err := regexp.Compile(s)
			if err != nil {
				return c.fail()
			}
			n.pattern = re
		case "enum", "const":
			vals := []any{v}
			if k == "enum" {
				arr, ok := v.([]any)
				if !ok {
					return c.fail()
				}
				vals = arr
			}
			for _, e := range vals {
				jc, ok := constOf(e)
				if !ok {
					return c.fail()
				}
				n.enum = append(n.enum, jc)
			}
			if n.enum == nil {
				n.enum = []jconst{}
			}
		case "format":
			if !c.formatAnnotation {
				return c.fail()
			}
		case "$id":
			// The root's own base: local refs resolve the same.
			if depth > 0 {
				return c.fail()
			}
		default:
			if !fastAnnotations[k] {
				return c.fail()
			}
		}
	}
	if len(n.props) > 0 && len(n.props) <= 8 {
		for name, p := range n.props {
			n.small = append(n.small, jnamed{name, p})
		}
	}
	return n
}

// exactNumber returns a schema number that float64 holds exactly.
func exactNumber(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok || len(n) > 15 || strings.ContainsAny(string(n), "eE") {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

func constOf(v any) (jconst, bool) {
	switch v := v.(type) {
	case nil:
		return jconst{t: jNull}, true
	case bool:
		return jconst{t: jBool, b: v}, true
	case string:
		return jconst{t: jString, s: v}, true
	case json.Number:
		f, ok := exactNumber(v)
		return jconst{t: jNumber, f: f}, ok
	}
	return jconst{}, false
}

// jscan is one pass of the fast path over a message.
type jscan struct {
	b   []byte
	pos int
	// unsure is set when the fast path cannot decide exactly.
	unsure bool
}

// fastValid reports whether data is valid (true) or needs the full
// validator (false: invalid, or undecided).
func (n *jnode) fastValid(data []byte) bool {
	s := jscan{b: data}
	s.ws()
	ok := s.value(n, 0)
	s.ws()
	return ok && !s.unsure && s.pos == len(s.b)
}

func (s *jscan) ws() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *jscan) lit(word string) bool {
	if !bytes.HasPrefix(s.b[s.pos:], []byte(word)) {
		return false
	}
	s.pos += len(word)
	return true
}

// value checks one value against n (nil: anything) and returns false as
// soon as it is invalid or undecidable.
func (s *jscan) value(n *jnode, depth int) bool {
	if depth > maxDepth {
		s.unsure = true
		return false
	}
	for hops := 0; n != nil && n.ref != nil && n.isRefOnly(); hops++ {
		if hops > 64 {
			s.unsure = true
			return false
		}
		n = n.ref
	}
	if n != nil && n.never {
		return false
	}
	if s.pos >= len(s.b) {
		return false
	}
	if n != nil && n.ref != nil {
		// $ref beside other keywords: both apply. Check the value twice.
		start := s.pos
		if !s.value(n.ref, depth+1) {
			return false
		}
		s.pos = start
	}
	switch c := s.b[s.pos]; {
	case c == '{':
		return s.object(n, depth)
	case c == '[':
		return s.array(n, depth)
	case c == '"':
		str, ok := s.str()
		return ok && (n == nil || n.checkString(str))
	case c == 't' || c == 'f':
		v := c == 't'
		word := "false"
		if v {
			word = "true"
		}
		if !s.lit(word) {
			return false
		}
		return n == nil || n.checkScalar(jBool, jconst{t: jBool, b: v})
	case c == 'n':
		if !s.lit("null") {
			return false
		}
		return n == nil || n.checkScalar(jNull, jconst{t: jNull})
	default:
		return s.number(n)
	}
}

func (n *jnode) isRefOnly() bool {
	return n.types == 0 && n.props == nil && !n.addlSet && !n.itemsSet && n.minItems == 0 && n.maxItems < 0 &&
		n.minLen == 0 && n.maxLen < 0 && n.bounds == nil && n.pattern == nil && n.enum == nil && !n.never
}

func (n *jnode) typeOK(t jtype) bool {
	if n.types == 0 || n.types&t != 0 {
		return true
	}
	return t == jInteger && n.types&jNumber != 0
}

func (n *jnode) checkScalar(t jtype, v jconst) bool {
	if !n.typeOK(t) {
		return false
	}
	if n.enum != nil {
		for _, e := range n.enum {
			if e.t == v.t && e.b == v.b {
				return true
			}
		}
		return false
	}
	return true
}

func (n *jnode) checkString(str []byte) bool {
	if !n.typeOK(jString) {
		return false
	}
	if n.minLen > 0 || n.maxLen >= 0 {
		l := utf8.RuneCount(str)
		if l < n.minLen || (n.maxLen >= 0 && l > n.maxLen) {
			return false
		}
	}
	if n.pattern != nil && !n.pattern.Match(str) {
		return false
	}
	if n.enum != nil {
		for _, e := range n.enum {
			if e.t == jString && e.s == string(str) {
				return true
			}
		}
		return false
	}
	return true
}

// str scans a string and returns its bytes. A string with escapes or
// invalid UTF-8 is left to the full validator.
func (s *jscan) str() ([]byte, bool) {
	start := s.pos + 1
	var high byte
	for i := start; i < len(s.b); i++ {
		c := s.b[i]
		high |= c
		switch {
		case c == '"':
			s.pos = i + 1
			str := s.b[start:i]
			if high >= utf8.RuneSelf && !utf8.Valid(str) {
				s.unsure = true
				return nil, false
			}
			return str, true
		case c == '\\':
			s.unsure = true
			return nil, false
		case c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

func (s *jscan) number(n *jnode) bool {
	start := s.pos
	i := s.pos
	if i < len(s.b) && s.b[i] == '-' {
		i++
	}
	switch {
	case i < len(s.b) && s.b[i] == '0':
		i++
	case i < len(s.b) && s.b[i] >= '1' && s.b[i] <= '9':
		for i < len(s.b) && s.b[i] >= '0' && s.b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	integer := true
	if i < len(s.b) && s.b[i] == '.' {
		integer = false
		i++
		d := i
		for i < len(s.b) && s.b[i] >= '0' && s.b[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(s.b) && (s.b[i] == 'e' || s.b[i] == 'E') {
		// Exponents decide integer-ness and exactness: leave them to the
		// full validator.
		s.unsure = true
		return false
	}
	s.pos = i
	if n == nil {
		return true
	}
	lit := s.b[start:i]
	if !integer && n.types != 0 && n.types&jNumber == 0 {
		if n.types&jInteger != 0 {
			// 1.0 is an integer to JSON Schema; let the full validator say.
			s.unsure = true
		}
		return false
	}
	t := jNumber
	if integer {
		t = jInteger
	}
	if !n.typeOK(t) {
		return false
	}
	if n.bounds == nil && n.enum == nil {
		return true
	}
	if len(lit) > 15 {
		s.unsure = true
		return false
	}
	var f float64
	if integer {
		var u int64
		for _, c := range bytes.TrimPrefix(lit, []byte{'-'}) {
			u = u*10 + int64(c-'0')
		}
		if f = float64(u); lit[0] == '-' {
			f = -f
		}
	} else {
		var err error
		if f, err = strconv.ParseFloat(string(lit), 64); err != nil || math.IsInf(f, 0) {
			s.unsure = true
			return false
		}
	}
	for _, b := range n.bounds {
		switch {
		case b.upper && b.exclusive && !(f < b.v),
			b.upper && !b.exclusive && !(f <= b.v),
			!b.upper && b.exclusive && !(f > b.v),
			!b.upper && !b.exclusive && !(f >= b.v):
			return false
		}
	}
	if n.enum != nil {
		for _, e := range n.enum {
			if e.t == jNumber && e.f == f {
				return true
			}
		}
		return false
	}
	return true
}

func (s *jscan) object(n *jnode, depth int) bool {
	if n != nil && (!n.typeOK(jObject) || n.enum != nil) {
		return false
	}
	s.pos++ // {
	var seen uint64
	s.ws()
	if s.pos < len(s.b) && s.b[s.pos] == '}' {
		s.pos++
		return n == nil || n.required == 0
	}
	for {
		s.ws()
		if s.pos >= len(s.b) || s.b[s.pos] != '"' {
			return false
		}
		key, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if s.pos >= len(s.b) || s.b[s.pos] != ':' {
			return false
		}
		s.pos++
		s.ws()
		var child *jnode
		if n != nil {
			if p, ok := n.lookup(key); ok {
				child = p.node
				if p.reqBit >= 0 {
					seen |= 1 << p.reqBit
				}
				if child == nil && n.addlSet {
					// Required but not declared in properties:
					// additionalProperties applies.
					child = n.addl
				}
			} else if n.addlSet {
				child = n.addl
			}
		}
		if !s.value(child, depth+1) {
			return false
		}
		s.ws()
		if s.pos >= len(s.b) {
			return false
		}
		switch s.b[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return n == nil || n.required == 0 || seen == uint64(1)<<n.required-1
		default:
			return false
		}
	}
}

func (s *jscan) array(n *jnode, depth int) bool {
	if n != nil && (!n.typeOK(jArray) || n.enum != nil) {
		return false
	}
	s.pos++ // [
	count := 0
	var items *jnode
	if n != nil && n.itemsSet {
		items = n.items
	}
	s.ws()
	if s.pos < len(s.b) && s.b[s.pos] == ']' {
		s.pos++
	} else {
		for {
			s.ws()
			if !s.value(items, depth+1) {
				return false
			}
			count++
			s.ws()
			if s.pos >= len(s.b) {
				return false
			}
			if s.b[s.pos] == ']' {
				s.pos++
				break
			}
			if s.b[s.pos] != ',' {
				return false
			}
			s.pos++
		}
	}
	return n == nil || (count >= n.minItems && (n.maxItems < 0 || count <= n.maxItems))
}
