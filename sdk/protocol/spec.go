package protocol

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/junctionhq/junction/sdk/units"
)

// FieldType is the type of a configuration field.
type FieldType string

// The field types a config struct can use, with the Go types they come from.
const (
	TypeString     FieldType = "string"      // string
	TypeInt        FieldType = "int"         // int, int8..int64, uint..uint64
	TypeFloat      FieldType = "float"       // float32, float64
	TypeBool       FieldType = "bool"        // bool
	TypeDuration   FieldType = "duration"    // time.Duration, written as "5s"
	TypeSize       FieldType = "size"        // connector.Size, written as "64MiB"
	TypeStringList FieldType = "string_list" // []string
)

// Field declares one configuration field, as generated from a config
// struct.
type Field struct {
	// Name is the dotted path, such as "rotate.max_bytes".
	Name     string    `json:"name"`
	Type     FieldType `json:"type"`
	Required bool      `json:"required,omitempty"`
	// Default is the default in the field's text form; empty for none.
	Default string `json:"default,omitempty"`
	// Secret values must never appear in logs, status or the API.
	Secret bool `json:"secret,omitempty"`
	// Path marks a string field naming a local file, directory or glob.
	// The host refuses a value outside the directories its server lets
	// connectors use (junction server --file-roots).
	Path bool   `json:"path,omitempty"`
	Doc  string `json:"doc"`
	// Allowed, when non-empty, lists the only values accepted.
	Allowed []string `json:"allowed,omitempty"`
	// Kinds the field applies to; empty means all the connector's kinds.
	Kinds []Kind `json:"kinds,omitempty"`
}

// Spec describes a connector plugin and its configuration.
type Spec struct {
	Name            string  `json:"name"`
	Version         string  `json:"version"`
	Description     string  `json:"description,omitempty"`
	Author          string  `json:"author,omitempty"`
	Homepage        string  `json:"homepage,omitempty"`
	License         string  `json:"license,omitempty"`
	Kinds           []Kind  `json:"kinds"`
	Fields          []Field `json:"fields"`
	ProtocolVersion uint32  `json:"protocol_version"`
	// Env lists the environment variables the plugin may receive from a
	// connector definition's env: names (AWS_REGION) or prefixes ending in
	// "*" (AWS_*). The host passes a plugin only these, on top of a clean
	// base environment, and refuses a definition that sets any other.
	Env []string `json:"env,omitempty"`
}

var (
	nameRE   = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
		`(-(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?` +
		`(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$`)
)

// Validate checks that the spec is complete and consistent: a catalog name,
// a semantic version, at least one kind, and for every field a known type,
// a doc, and a default and allowed values that parse as the field's type.
// It returns every problem at once.
func (s Spec) Validate() error {
	var errs FieldErrors
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if !nameRE.MatchString(s.Name) {
		add("name", "want lower case letters, digits and dashes, got %q", s.Name)
	}
	if !semverRE.MatchString(s.Version) {
		add("version", "want a semantic version such as 1.2.3, got %q", s.Version)
	}
	if len(s.Kinds) == 0 {
		add("kinds", "want at least one of source, sink")
	}
	for _, k := range s.Kinds {
		if k != KindSource && k != KindSink {
			add("kinds", "unknown kind %q", k)
		}
	}
	seen := make(map[string][]Kind)
	for _, f := range s.Fields {
		path := "fields." + f.Name
		kinds := f.Kinds
		if len(kinds) == 0 {
			kinds = s.Kinds
		}
		for _, k := range kinds {
			if slices.Contains(seen[f.Name], k) {
				add(path, "declared twice for kind %s", k)
			}
			if !slices.Contains(s.Kinds, k) {
				add(path, "applies to kind %s, which the connector does not serve", k)
			}
		}
		seen[f.Name] = append(seen[f.Name], kinds...)
		if f.Name == "" {
			add(path, "has no name")
		}
		if strings.TrimSpace(f.Doc) == "" {
			add(path, "has no doc")
		}
		if f.Required && f.Default != "" {
			add(path, "is required and has a default")
		}
		if f.Path && f.Type != TypeString {
			add(path, "is a path, so it must be a string")
		}
		if f.Default != "" {
			if msg := checkText(f.Type, f.Default); msg != "" {
				add(path, "default: %s", msg)
			}
			if len(f.Allowed) > 0 && !allowedText(f, f.Default) {
				add(path, "default %q is not one of the allowed values", f.Default)
			}
		}
		for _, a := range f.Allowed {
			if msg := checkText(f.Type, a); msg != "" {
				add(path, "allowed value: %s", msg)
			}
		}
		if checkText(f.Type, "") == "unknown type" {
			add(path, "unknown type %q", f.Type)
		}
	}
	for i, e := range s.Env {
		if err := CheckEnvPattern(e); err != nil {
			add(fmt.Sprintf("env[%d]", i), "%v", err)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func allowedText(f Field, v string) bool {
	if f.Type == TypeStringList {
		for _, e := range SplitList(v) {
			if !slices.Contains(f.Allowed, e) {
				return false
			}
		}
		return true
	}
	return slices.Contains(f.Allowed, v)
}

// checkText reports why s is not a valid text form of t, or "".
func checkText(t FieldType, s string) string {
	var err error
	switch t {
	case TypeString, TypeStringList:
		return ""
	case TypeInt:
		_, err = strconv.ParseInt(s, 10, 64)
		if err != nil {
			_, err = strconv.ParseUint(s, 10, 64)
		}
	case TypeFloat:
		_, err = strconv.ParseFloat(s, 64)
	case TypeBool:
		_, err = strconv.ParseBool(s)
	case TypeDuration:
		_, err = time.ParseDuration(s)
	case TypeSize:
		_, err = units.ParseSize(s)
	default:
		return "unknown type"
	}
	if err != nil {
		return fmt.Sprintf("%q is not a valid %s", s, t)
	}
	return ""
}

// SplitList splits the text form of a string_list value (a default, an
// allowed value or a config string): comma separated, spaces around each
// element trimmed; blank is the empty list.
func SplitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}
