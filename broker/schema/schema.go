// Package schema is Junction's schema engine: it compiles JSON Schema, Avro,
// Protobuf and GraphQL schemas into validators, validates message payloads
// against them, and checks a new schema version for compatibility with
// earlier ones under the Confluent Schema Registry's modes.
//
// The package knows nothing of stations or storage: the broker keeps the
// registry and calls Compile once per schema version, then Validate for
// every produced message. A compiled Schema is immutable and safe for
// concurrent use; validating a message does not allocate for Avro and
// Protobuf, and allocates only the decoded JSON value for JSON Schema.
//
// Payload encodings: JSON Schema validates a JSON document; Avro and
// Protobuf validate the bare binary encoding of one datum or message (no
// framing, no schema id); GraphQL validates a GraphQL operation document
// against the schema.
//
// Nothing here reads files or the network: a JSON Schema $ref and a
// .proto import resolve only to the documents of the Source itself (and
// the JSON Schema metaschemas and Protobuf well-known types built in).
package schema

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Type is a schema language.
type Type string

// Schema types.
const (
	JSON     Type = "json"
	Avro     Type = "avro"
	Protobuf Type = "protobuf"
	GraphQL  Type = "graphql"
)

// ParseType parses a type name: json (or jsonschema), avro, protobuf (or
// proto), graphql.
func ParseType(s string) (Type, error) {
	switch strings.ToLower(s) {
	case "json", "jsonschema", "json-schema":
		return JSON, nil
	case "avro":
		return Avro, nil
	case "protobuf", "proto":
		return Protobuf, nil
	case "graphql":
		return GraphQL, nil
	}
	return "", fmt.Errorf("%w: unknown schema type %q (use json, avro, protobuf or graphql)", ErrInvalidSchema, s)
}

// Limits on what Compile accepts, so a schema cannot exhaust the broker's
// memory.
const (
	// MaxFileBytes is the largest schema file.
	MaxFileBytes = 1 << 20
	// MaxFiles is the most files of one Source (Protobuf imports).
	MaxFiles = 64
	// maxDepth bounds the nesting a validator follows in a message.
	maxDepth = 256
)

// File is one document of a schema: for Protobuf a .proto file (Name is
// its import path) or a binary FileDescriptorSet (any other Name); for the
// other types the schema text.
type File struct {
	Name    string `json:"name"`
	Content []byte `json:"content"`
}

// Source is a schema definition as a user gives it.
type Source struct {
	Type Type `json:"type"`
	// Files holds exactly one file for JSON Schema, Avro and GraphQL, and
	// the .proto files (or one descriptor set) for Protobuf.
	Files []File `json:"files"`
	// Message is the fully qualified Protobuf message that payloads
	// encode, such as "shop.v1.Order". Protobuf only.
	Message string `json:"message,omitempty"`
}

// ErrInvalidSchema is matched by every error Compile returns for a bad
// schema definition.
var ErrInvalidSchema = errors.New("invalid schema")

// ErrInvalidMessage is matched by every *ValidationError.
var ErrInvalidMessage = errors.New("message does not match its schema")

// CompileError is a schema definition that does not compile. It matches
// ErrInvalidSchema.
type CompileError struct {
	Type Type
	// File names the file at fault, when known.
	File string
	Err  error
}

func (e *CompileError) Error() string {
	where := string(e.Type) + " schema"
	if e.File != "" {
		where += " " + e.File
	}
	return where + ": " + e.Err.Error()
}

// Unwrap returns the underlying parser error.
func (e *CompileError) Unwrap() error { return e.Err }

// Is makes a CompileError match ErrInvalidSchema.
func (e *CompileError) Is(target error) bool { return target == ErrInvalidSchema }

// ValidationError says why a payload does not match its schema. It matches
// ErrInvalidMessage.
type ValidationError struct {
	// Path locates the failing value in the message, as a JSON pointer
	// ("/items/0/price") for JSON, Avro and Protobuf; for GraphQL the
	// response path or line:column of the failing selection. "" is the
	// whole message.
	Path string
	// Rule is the schema rule that failed: a JSON Schema keyword
	// ("minimum", "required"), an Avro or Protobuf encoding rule
	// ("type", "enum", "varint", "trailing-bytes"), or a GraphQL
	// validation rule ("FieldsOnCorrectType").
	Rule string
	// Reason says what is wrong, for people.
	Reason string
}

func (e *ValidationError) Error() string {
	p := e.Path
	if p == "" {
		p = "/"
	}
	return fmt.Sprintf("at %s: %s: %s", p, e.Rule, e.Reason)
}

// Is makes a ValidationError match ErrInvalidMessage.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidMessage }

// Schema is a compiled schema version. It is immutable and safe for
// concurrent use.
type Schema struct {
	src Source
	v   validator
}

// validator is the compiled form of one schema type.
type validator interface {
	validate(data []byte) error
}

// Compile parses and compiles src. A bad definition fails with a
// *CompileError naming the file and, where the parser says, the line.
func Compile(src Source) (*Schema, error) {
	if err := checkSource(src); err != nil {
		return nil, err
	}
	var (
		v   validator
		err error
	)
	switch src.Type {
	case JSON:
		v, err = compileJSON(src.Files[0])
	case Avro:
		v, err = compileAvro(src.Files[0])
	case Protobuf:
		v, err = compileProtobuf(src.Files, src.Message)
	case GraphQL:
		v, err = compileGraphQL(src.Files[0])
	}
	if err != nil {
		var ce *CompileError
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, &CompileError{Type: src.Type, Err: err}
	}
	return &Schema{src: src, v: v}, nil
}

func checkSource(src Source) error {
	bad := func(format string, args ...any) error {
		return &CompileError{Type: src.Type, Err: fmt.Errorf(format, args...)}
	}
	switch src.Type {
	case JSON, Avro, GraphQL:
		if len(src.Files) != 1 {
			return bad("exactly one schema file is required, got %d", len(src.Files))
		}
		if src.Message != "" {
			return bad("a message name applies to protobuf schemas only")
		}
	case Protobuf:
		if len(src.Files) == 0 {
			return bad("at least one .proto file or a descriptor set is required")
		}
		if len(src.Files) > MaxFiles {
			return bad("at most %d files, got %d", MaxFiles, len(src.Files))
		}
		if src.Message == "" {
			return bad("the message name is required (the message payloads encode, such as shop.v1.Order)")
		}
	case "":
		return bad("the schema type is required (json, avro, protobuf or graphql)")
	default:
		return bad("unknown schema type %q (use json, avro, protobuf or graphql)", src.Type)
	}
	seen := make(map[string]bool, len(src.Files))
	for i, f := range src.Files {
		if len(f.Content) > MaxFileBytes {
			return &CompileError{Type: src.Type, File: f.Name, Err: fmt.Errorf("file is %d bytes, over the limit of %d", len(f.Content), MaxFileBytes)}
		}
		if len(f.Content) == 0 {
			return &CompileError{Type: src.Type, File: f.Name, Err: errors.New("file is empty")}
		}
		if src.Type == Protobuf {
			if f.Name == "" {
				return bad("file %d has no name", i)
			}
			if seen[f.Name] {
				return bad("file %s given twice", f.Name)
			}
			seen[f.Name] = true
		} else if !utf8.Valid(f.Content) {
			return &CompileError{Type: src.Type, File: f.Name, Err: errors.New("file is not UTF-8 text")}
		}
	}
	return nil
}

// Type is the schema's language.
func (s *Schema) Type() Type { return s.src.Type }

// Source is the definition s was compiled from. The caller must not
// modify it.
func (s *Schema) Source() Source { return s.src }

// Validate checks one payload. It returns nil or a *ValidationError. It
// does not retain data.
func (s *Schema) Validate(data []byte) error {
	return s.v.validate(data)
}

// jsonPointer appends a JSON pointer token to p, escaping ~ and /.
func jsonPointer(p, token string) string {
	if strings.ContainsAny(token, "~/") {
		token = strings.NewReplacer("~", "~0", "/", "~1").Replace(token)
	}
	return p + "/" + token
}
