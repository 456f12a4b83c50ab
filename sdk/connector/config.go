package connector

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/junctionhq/junction/sdk/protocol"
	"github.com/junctionhq/junction/sdk/suggest"
)

// SinkFactory builds a Sink from its configuration; see NewSink.
type SinkFactory struct {
	cfg   *schema
	build func(cfg any) (Sink, error)
}

// SourceFactory builds a Source from its configuration; see NewSource.
type SourceFactory struct {
	cfg   *schema
	build func(cfg any) (Source, error)
}

// NewSink declares a sink whose configuration is the struct C. Configure
// decodes and validates the config into a C and calls newSink with it.
//
// The fields of C (exported, recursively through nested structs, whose
// fields get dotted names) are configuration fields, described by tags:
//
//	json:"name"                 the field's name; "-" skips it; default: lower-cased Go name
//	connector:"required,secret" flags: must be set; value is a secret;
//	                            "path": a local file, directory or glob, which
//	                            the host confines to the directories its
//	                            server allows (junction server --file-roots)
//	default:"64MiB"             the default, in the field's text form
//	allowed:"jsonl,lines"       the only values accepted
//	doc:"..."                   documentation, shown by junction hub info
//
// Field types: string, bool, signed and unsigned ints, floats,
// time.Duration ("5s"), Size ("64MiB", "512KB", 1024) and []string (a list,
// or one comma-separated string). Ints, floats and bools are also accepted as
// strings, so ${ENV} interpolation works. An empty string counts as unset.
//
// If C or *C has a method Validate() error, it runs after every field
// decoded; to name fields in its errors, return FieldError or FieldErrors.
// An error from newSink is reported by Configure the same way (FieldErrors
// name fields; other errors keep their kind, as with Fatal).
//
// NewSink panics if C is not a struct or has a field of an unsupported type
// or a default that does not parse: those are bugs in the connector.
func NewSink[C any](newSink func(cfg C) (Sink, error)) *SinkFactory {
	return &SinkFactory{
		cfg:   mustSchema[C](),
		build: func(cfg any) (Sink, error) { return newSink(cfg.(C)) },
	}
}

// NewSource declares a source whose configuration is the struct C; see
// NewSink for the tags.
func NewSource[C any](newSource func(cfg C) (Source, error)) *SourceFactory {
	return &SourceFactory{
		cfg:   mustSchema[C](),
		build: func(cfg any) (Source, error) { return newSource(cfg.(C)) },
	}
}

// Decode decodes and validates cfg as NewSink's C would be and returns the
// result (a C) for tests; it reports problems as FieldErrors.
func (f *SinkFactory) Decode(cfg map[string]any) (any, error) { return f.cfg.decode(cfg) }

// Decode decodes and validates cfg as NewSource's C would be and returns
// the result (a C) for tests; it reports problems as FieldErrors.
func (f *SourceFactory) Decode(cfg map[string]any) (any, error) { return f.cfg.decode(cfg) }

var (
	durationType = reflect.TypeFor[time.Duration]()
	sizeType     = reflect.TypeFor[Size]()
)

type schema struct {
	typ    reflect.Type
	fields []*fieldSchema
}

type fieldSchema struct {
	Field
	key      string
	index    []int // path through embedded structs, for FieldByIndex
	children []*fieldSchema
}

func mustSchema[C any]() *schema {
	t := reflect.TypeFor[C]()
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("connector: config type %s is not a struct", t))
	}
	fields, err := structFields(t, "")
	if err != nil {
		panic(fmt.Sprintf("connector: config type %s: %v", t, err))
	}
	return &schema{typ: t, fields: fields}
}

func structFields(t reflect.Type, prefix string) ([]*fieldSchema, error) {
	var out []*fieldSchema
	for i := range t.NumField() {
		sf := t.Field(i)
		key, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if key == "-" || !sf.IsExported() && !sf.Anonymous {
			continue
		}
		if sf.Anonymous && key == "" && sf.Type.Kind() == reflect.Struct {
			// An embedded struct's fields belong to the parent, so that
			// configs can share a block of fields.
			embedded, err := structFields(sf.Type, prefix)
			if err != nil {
				return nil, err
			}
			for _, f := range embedded {
				f.index = append([]int{i}, f.index...)
			}
			out = append(out, embedded...)
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if key == "" {
			key = strings.ToLower(sf.Name)
		}
		fs := &fieldSchema{key: key, index: []int{i}}
		fs.Name = prefix + key
		fs.Doc = sf.Tag.Get("doc")
		if sf.Type.Kind() == reflect.Struct && sf.Type != durationType {
			children, err := structFields(sf.Type, fs.Name+".")
			if err != nil {
				return nil, err
			}
			fs.children = children
			out = append(out, fs)
			continue
		}
		typ, ok := fieldType(sf.Type)
		if !ok {
			return nil, fmt.Errorf("field %s: unsupported type %s", fs.Name, sf.Type)
		}
		fs.Type = typ
		for _, flag := range strings.Split(sf.Tag.Get("connector"), ",") {
			switch strings.TrimSpace(flag) {
			case "":
			case "required":
				fs.Required = true
			case "secret":
				fs.Secret = true
			case "path":
				fs.Path = true
			default:
				return nil, fmt.Errorf("field %s: unknown connector tag flag %q", fs.Name, flag)
			}
		}
		fs.Default = sf.Tag.Get("default")
		fs.Allowed = protocol.SplitList(sf.Tag.Get("allowed"))
		if fs.Default != "" {
			v := reflect.New(sf.Type).Elem()
			if msg := setValue(v, fs, fs.Default); msg != "" {
				return nil, fmt.Errorf("field %s: default: %s", fs.Name, msg)
			}
			if msg := checkAllowed(v, fs); msg != "" {
				return nil, fmt.Errorf("field %s: default: %s", fs.Name, msg)
			}
		}
		out = append(out, fs)
	}
	return out, nil
}

func fieldType(t reflect.Type) (FieldType, bool) {
	switch {
	case t == durationType:
		return TypeDuration, true
	case t == sizeType:
		return TypeSize, true
	}
	switch t.Kind() {
	case reflect.String:
		return TypeString, true
	case reflect.Bool:
		return TypeBool, true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return TypeInt, true
	case reflect.Float32, reflect.Float64:
		return TypeFloat, true
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return TypeStringList, true
		}
	}
	return "", false
}

// specFields lists the leaf fields in declaration order.
func (s *schema) specFields() []Field {
	var out []Field
	var walk func([]*fieldSchema)
	walk = func(fs []*fieldSchema) {
		for _, f := range fs {
			if f.children != nil {
				walk(f.children)
				continue
			}
			g := f.Field
			g.Allowed = slices.Clone(f.Allowed)
			out = append(out, g)
		}
	}
	walk(s.fields)
	return out
}

// decode turns raw into a validated config value of the schema's type.
func (s *schema) decode(raw map[string]any) (any, error) {
	v := reflect.New(s.typ).Elem()
	var errs FieldErrors
	decodeStruct(v, s.fields, raw, "", &errs)
	if len(errs) > 0 {
		return nil, errs
	}
	if err := callValidate(v); err != nil {
		return nil, err
	}
	return v.Interface(), nil
}

type validator interface{ Validate() error }

func callValidate(v reflect.Value) error {
	var err error
	if val, ok := v.Addr().Interface().(validator); ok {
		err = val.Validate()
	} else if val, ok := v.Interface().(validator); ok {
		err = val.Validate()
	}
	if err == nil {
		return nil
	}
	return asFieldErrors(err)
}

// asFieldErrors turns a validation error into FieldErrors, keeping the
// fields named by FieldError and FieldErrors.
func asFieldErrors(err error) FieldErrors {
	var fes FieldErrors
	if errors.As(err, &fes) {
		return fes
	}
	var fe FieldError
	if errors.As(err, &fe) {
		return FieldErrors{fe}
	}
	return FieldErrors{{Message: err.Error()}}
}

func decodeStruct(v reflect.Value, fields []*fieldSchema, raw map[string]any, prefix string, errs *FieldErrors) {
	known := make(map[string]bool, len(fields))
	for _, f := range fields {
		known[f.key] = true
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if known[k] {
			continue
		}
		msg := "unknown field"
		if s := suggest.Closest(k, slices.Collect(maps.Keys(known))); s != "" {
			msg += fmt.Sprintf(", did you mean %q?", prefix+s)
		}
		*errs = append(*errs, FieldError{Field: prefix + k, Message: msg})
	}
	for _, f := range fields {
		fv := v.FieldByIndex(f.index)
		val, present := raw[f.key]
		if s, ok := val.(string); val == nil || ok && s == "" && f.children == nil {
			present = false
		}
		if f.children != nil {
			m, ok := val.(map[string]any)
			if present && !ok {
				*errs = append(*errs, FieldError{Field: f.Name, Message: "want an object, got " + describe(val, false)})
				continue
			}
			decodeStruct(fv, f.children, m, f.Name+".", errs)
			continue
		}
		switch {
		case !present && f.Required:
			*errs = append(*errs, FieldError{Field: f.Name, Message: "required"})
		case !present && f.Default != "":
			setValue(fv, f, f.Default)
		case present:
			if msg := setValue(fv, f, val); msg != "" {
				*errs = append(*errs, FieldError{Field: f.Name, Message: msg})
			} else if msg := checkAllowed(fv, f); msg != "" {
				*errs = append(*errs, FieldError{Field: f.Name, Message: msg})
			}
		}
	}
}

// setValue stores val (a decoded JSON value or a text form) into v, or
// says why it cannot.
func setValue(v reflect.Value, f *fieldSchema, val any) string {
	want := func(what string) string {
		return fmt.Sprintf("want %s, got %s", what, describe(val, f.Secret))
	}
	str, isStr := val.(string)
	switch f.Type {
	case TypeString:
		if !isStr {
			return want("a string")
		}
		v.SetString(str)
	case TypeBool:
		b, ok := val.(bool)
		if isStr {
			var err error
			b, err = strconv.ParseBool(strings.TrimSpace(str))
			ok = err == nil
		}
		if !ok {
			return want("true or false")
		}
		v.SetBool(b)
	case TypeInt:
		n, ok := toFloat(val)
		if isStr {
			return setIntText(v, strings.TrimSpace(str), want)
		}
		if !ok || n != math.Trunc(n) {
			return want("an integer")
		}
		return setIntText(v, strconv.FormatFloat(n, 'f', -1, 64), want)
	case TypeFloat:
		n, ok := toFloat(val)
		if isStr {
			var err error
			n, err = strconv.ParseFloat(strings.TrimSpace(str), 64)
			ok = err == nil
		}
		if !ok {
			return want("a number")
		}
		if v.OverflowFloat(n) {
			return want("a smaller number")
		}
		v.SetFloat(n)
	case TypeDuration:
		var d time.Duration
		if n, ok := toFloat(val); ok && n == 0 {
			d = 0
		} else if !isStr {
			return want("a duration such as 5s")
		} else {
			var err error
			if d, err = time.ParseDuration(strings.TrimSpace(str)); err != nil {
				return want("a duration such as 5s")
			}
		}
		v.SetInt(int64(d))
	case TypeSize:
		var sz Size
		if n, ok := toFloat(val); ok {
			if n < 0 || n != math.Trunc(n) || n >= math.MaxInt64 {
				return want("a size such as 64MiB")
			}
			sz = Size(n)
		} else if !isStr {
			return want("a size such as 64MiB")
		} else {
			var err error
			if sz, err = ParseSize(str); err != nil {
				return want("a size such as 64MiB")
			}
		}
		v.SetInt(int64(sz))
	case TypeStringList:
		var list []string
		switch x := val.(type) {
		case string:
			list = protocol.SplitList(x)
		case []string:
			list = slices.Clone(x)
		case []any:
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return fmt.Sprintf("want a list of strings, got %s at index %d", describe(e, f.Secret), i)
				}
				list = append(list, s)
			}
		default:
			return want("a list of strings")
		}
		v.Set(reflect.ValueOf(list).Convert(v.Type()))
	}
	return ""
}

func setIntText(v reflect.Value, s string, want func(string) string) string {
	switch v.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || v.OverflowUint(n) {
			return want(fmt.Sprintf("a non-negative integer that fits %s", v.Kind()))
		}
		v.SetUint(n)
	default:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v.OverflowInt(n) {
			return want(fmt.Sprintf("an integer that fits %s", v.Kind()))
		}
		v.SetInt(n)
	}
	return ""
}

func toFloat(val any) (float64, bool) {
	switch n := val.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func checkAllowed(v reflect.Value, f *fieldSchema) string {
	if len(f.Allowed) == 0 {
		return ""
	}
	var vals []string
	if f.Type == TypeStringList {
		vals = v.Interface().([]string)
	} else {
		vals = []string{textOf(v, f.Type)}
	}
	for _, s := range vals {
		if !slices.Contains(f.Allowed, s) {
			return fmt.Sprintf("want one of %s, got %s", strings.Join(f.Allowed, ", "), describe(s, f.Secret))
		}
	}
	return ""
}

func textOf(v reflect.Value, t FieldType) string {
	switch t {
	case TypeDuration:
		return time.Duration(v.Int()).String()
	case TypeSize:
		return Size(v.Int()).String()
	}
	return fmt.Sprint(v.Interface())
}

// describe renders a config value for an error message.
func describe(val any, secret bool) string {
	if secret {
		kind := "a string"
		switch val.(type) {
		case bool:
			kind = "a bool"
		case []any, []string:
			kind = "a list"
		case map[string]any:
			kind = "an object"
		default:
			if _, ok := toFloat(val); ok {
				kind = "a number"
			}
		}
		return kind + " (value hidden)"
	}
	b, err := json.Marshal(val)
	if err != nil {
		return fmt.Sprintf("%v", val)
	}
	if len(b) > 60 {
		return string(b[:57]) + "..."
	}
	return string(b)
}
