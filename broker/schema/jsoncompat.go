package schema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// jsonNarrowing lists where reader (a JSON Schema document) rejects
// instances that writer accepted: a type no longer allowed, a property
// that became required, a tighter bound, a removed enum value, closed
// additional properties, and so on, recursing into properties and items.
// A keyword it cannot reason about counts as breaking when it changed.
func jsonNarrowing(writer, reader any, path string, out *[]Change) {
	c := jsonCompat{wroot: writer, rroot: reader, seen: make(map[[2]string]bool)}
	c.check(writer, reader, path, 0)
	*out = append(*out, c.out...)
}

type jsonCompat struct {
	wroot, rroot any
	seen         map[[2]string]bool
	out          []Change
}

func (c *jsonCompat) add(path, format string, args ...any) {
	c.out = append(c.out, Change{Path: path, Reason: fmt.Sprintf(format, args...)})
}

// annotations never change which instances validate.
var annotations = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "$anchor": true, "title": true, "description": true,
	"examples": true, "default": true, "deprecated": true, "readOnly": true, "writeOnly": true,
	"$defs": true, "definitions": true,
}

// handled keywords are compared structurally below.
var handled = map[string]bool{
	"type": true, "enum": true, "const": true, "required": true, "properties": true,
	"additionalProperties": true, "items": true, "uniqueItems": true, "$ref": true,
	"minimum": true, "exclusiveMinimum": true, "minLength": true, "minItems": true, "minProperties": true,
	"maximum": true, "exclusiveMaximum": true, "maxLength": true, "maxItems": true, "maxProperties": true,
	"pattern": true, "format": true, "multipleOf": true,
}

const maxRefDepth = 64

// resolve follows a local $ref ("#/$defs/x") within root.
func resolve(root any, m map[string]any) (any, string, bool) {
	ref, ok := m["$ref"].(string)
	if !ok || (ref != "#" && !strings.HasPrefix(ref, "#/")) {
		return m, "", false
	}
	var v any = root
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#"), "/")[1:] {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return m, ref, false
			}
			v = x[i]
		default:
			return m, ref, false
		}
	}
	if v == nil {
		return m, ref, false
	}
	return v, ref, true
}

func (c *jsonCompat) deref(root, s any, depth int) (any, string) {
	var refs []string
	for range maxRefDepth {
		m, ok := s.(map[string]any)
		if !ok {
			break
		}
		t, ref, ok := resolve(root, m)
		if !ok {
			break
		}
		refs = append(refs, ref)
		// Keywords beside $ref apply too (2019-09 and later); they are
		// rare enough that a schema using them is compared as written.
		if len(m) > 1 {
			break
		}
		s = t
	}
	return s, strings.Join(refs, ",")
}

func (c *jsonCompat) check(w, r any, path string, depth int) {
	if depth > maxDepth {
		c.add(path, "schema nested too deeply to compare")
		return
	}
	var wref, rref string
	w, wref = c.deref(c.wroot, w, depth)
	r, rref = c.deref(c.rroot, r, depth)
	if wref != "" || rref != "" {
		key := [2]string{wref, rref}
		if c.seen[key] {
			return
		}
		c.seen[key] = true
	}
	if b, ok := r.(bool); ok && b {
		return
	}
	if b, ok := w.(bool); ok && !b {
		return
	}
	rm, _ := r.(map[string]any)
	wm, _ := w.(map[string]any)
	if b, ok := r.(bool); ok && !b {
		c.add(path, "schema became false: no value is accepted")
		return
	}
	if wm == nil {
		wm = map[string]any{}
	}
	if rm == nil {
		return
	}
	c.types(wm, rm, path)
	c.enums(wm, rm, path)
	for _, k := range []string{"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"} {
		rv, rok := number(rm[k])
		if !rok {
			continue
		}
		if wv, wok := number(wm[k]); !wok {
			c.add(path, "%s %v added", k, rm[k])
		} else if rv > wv {
			c.add(path, "%s raised from %v to %v", k, wm[k], rm[k])
		}
	}
	for _, k := range []string{"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"} {
		rv, rok := number(rm[k])
		if !rok {
			continue
		}
		if wv, wok := number(wm[k]); !wok {
			c.add(path, "%s %v added", k, rm[k])
		} else if rv < wv {
			c.add(path, "%s lowered from %v to %v", k, wm[k], rm[k])
		}
	}
	for _, k := range []string{"pattern", "format", "multipleOf"} {
		if rv, ok := rm[k]; ok && !reflect.DeepEqual(rv, wm[k]) {
			if _, had := wm[k]; had {
				c.add(path, "%s changed from %v to %v", k, wm[k], rv)
			} else {
				c.add(path, "%s %v added", k, rv)
			}
		}
	}
	if rm["uniqueItems"] == true && wm["uniqueItems"] != true {
		c.add(path, "uniqueItems added")
	}
	wreq, rreq := strings_(wm["required"]), strings_(rm["required"])
	for _, name := range rreq {
		if !slices.Contains(wreq, name) {
			c.add(jsonPointer(path, name), "property %q became required", name)
		}
	}
	c.properties(wm, rm, path, depth)
	if _, ok := rm["items"]; ok {
		wi, ok := wm["items"]
		if !ok {
			wi = true
		}
		c.check(wi, rm["items"], jsonPointer(path, "*"), depth+1)
	}
	for _, k := range sortedKeys(rm) {
		if annotations[k] || handled[k] {
			continue
		}
		if !reflect.DeepEqual(rm[k], wm[k]) {
			c.add(path, "keyword %s changed; Junction cannot prove this change compatible", k)
		}
	}
}

func (c *jsonCompat) types(wm, rm map[string]any, path string) {
	rt := strings_(rm["type"])
	if rt == nil {
		return
	}
	wt := strings_(wm["type"])
	if wt == nil {
		c.add(path, "type restricted to %s (any type was allowed)", strings.Join(rt, ", "))
		return
	}
	for _, t := range wt {
		if slices.Contains(rt, t) || (t == "integer" && slices.Contains(rt, "number")) {
			continue
		}
		c.add(path, "type %s no longer allowed (now %s)", t, strings.Join(rt, ", "))
	}
}

func (c *jsonCompat) enums(wm, rm map[string]any, path string) {
	allowed := func(m map[string]any) ([]any, bool) {
		if v, ok := m["const"]; ok {
			return []any{v}, true
		}
		e, ok := m["enum"].([]any)
		return e, ok
	}
	rv, rok := allowed(rm)
	if !rok {
		return
	}
	wv, wok := allowed(wm)
	if !wok {
		c.add(path, "values restricted to %s", compactJSON(rv))
		return
	}
	for _, v := range wv {
		if !slices.ContainsFunc(rv, func(x any) bool { return reflect.DeepEqual(x, v) }) {
			c.add(path, "value %s no longer allowed", compactJSON(v))
		}
	}
}

func (c *jsonCompat) properties(wm, rm map[string]any, path string, depth int) {
	wprops, _ := wm["properties"].(map[string]any)
	rprops, _ := rm["properties"].(map[string]any)
	waddl, ok := wm["additionalProperties"]
	if !ok {
		waddl = true
	}
	raddl, ok := rm["additionalProperties"]
	if !ok {
		raddl = true
	}
	for _, name := range sortedKeys(wprops) {
		p := jsonPointer(path, name)
		if rp, ok := rprops[name]; ok {
			c.check(wprops[name], rp, p, depth+1)
			continue
		}
		if raddl == false {
			c.add(p, "property %q removed while additional properties are not allowed", name)
			continue
		}
		c.check(wprops[name], raddl, p, depth+1)
	}
	for _, name := range sortedKeys(rprops) {
		if _, ok := wprops[name]; ok {
			continue
		}
		if waddl == false || rprops[name] == true {
			continue
		}
		if slices.Contains(strings_(rm["required"]), name) && !slices.Contains(strings_(wm["required"]), name) {
			continue // reported as newly required
		}
		if waddl == true {
			if m, ok := rprops[name].(map[string]any); ok && len(m) == 0 {
				continue
			}
			c.add(jsonPointer(path, name), "property %q added, but the earlier version accepted any value under that name (it allows additional properties)", name)
			continue
		}
		c.check(waddl, rprops[name], jsonPointer(path, name), depth+1)
	}
	if raddl == false && waddl != false {
		c.add(path, "additional properties no longer allowed")
	} else if _, ok := raddl.(map[string]any); ok {
		c.check(waddl, raddl, jsonPointer(path, "*"), depth+1)
	}
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// strings_ reads a keyword that is a string or an array of strings.
func strings_(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
