// Package schemacols derives typed table columns from the schema attached
// to a sink's station (connector.SinkInfo.Schema), for sinks that write
// one column per top-level field: JSON Schema properties, Avro record
// fields and Protobuf message fields each become a column of a portable
// Type, which the sink maps to its own SQL types. It also renders Avro and
// Protobuf record values as JSON objects, so that such a sink parses every
// value the same way.
package schemacols

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/junctionhq/junction/sdk/connector"
)

// Type is the portable type of a column.
type Type int

// Column types. Values in JSON: String a string, Integer an integer (or,
// from Protobuf 64-bit fields, a decimal string), Float a number, Boolean
// true or false, Bytes a base64 string, JSON any object or array,
// Timestamp an RFC 3339 string, Date a string such as "2025-03-01".
const (
	String Type = iota + 1
	Integer
	Float
	Boolean
	Bytes
	JSON
	Timestamp
	Date
)

var typeNames = [...]string{"", "string", "integer", "float", "boolean", "bytes", "json", "timestamp", "date"}

func (t Type) String() string {
	if t > 0 && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// Column is one top-level field of the schema.
type Column struct {
	Name string
	Type Type
}

// MaxColumns bounds the columns derived from one schema; fields beyond it
// (in name order) are left to the sink's inference from values.
const MaxColumns = 1000

// avroAPI decodes Avro values with memory bounded whatever a value
// claims: strings and bytes up to 64 MiB, arrays up to a million items.
var avroAPI = avro.Config{MaxByteSliceSize: 64 << 20, MaxSliceAllocSize: 1 << 20}.Freeze()

// ErrValue is wrapped by the errors of Columns.JSON and Columns.Record:
// the value does not decode with the schema.
var ErrValue = errors.New("the value does not decode with the station's schema")

// ErrVersion is wrapped by the errors of Columns.Record: an Avro record
// was validated against another schema version than the one the sink
// has, and Avro needs the writer's schema to decode.
var ErrVersion = errors.New("the record was written with another version of the station's schema")

// Columns is the columns of one schema version.
type Columns struct {
	// Cols lists the columns in name order.
	Cols   []Column
	schema *connector.Schema
	byName map[string]Type
	avro   avro.Schema
	scales map[string]int  // Avro decimal fields → their scale
	unions map[string]bool // Avro union fields
	proto  protoreflect.MessageDescriptor
}

// New derives the columns of s. It returns nil, nil when s is nil, is of
// a type without fields (graphql), its top level is not an Avro record, or
// it is a JSON Schema without typed properties; an error when an Avro or
// Protobuf schema does not compile.
func New(s *connector.Schema) (*Columns, error) {
	if s == nil || len(s.Files) == 0 || (s.Type != "protobuf" && len(s.Files) != 1) {
		return nil, nil
	}
	c := &Columns{schema: s}
	switch s.Type {
	case "json":
		c.Cols = jsonColumns(s.Files[0].Content)
	case "avro":
		sch, err := ParseAvro(s.Files[0].Content)
		if err != nil {
			return nil, fmt.Errorf("avro schema %s@%d: %w", s.Name, s.Version, err)
		}
		rec, ok := sch.(*avro.RecordSchema)
		if !ok {
			return nil, nil
		}
		c.avro = sch
		c.unions, c.scales = map[string]bool{}, map[string]int{}
		for _, f := range rec.Fields() {
			if _, ok := f.Type().(*avro.UnionSchema); ok {
				c.unions[f.Name()] = true
			}
			if scale, ok := avroDecimal(f.Type()); ok {
				c.scales[f.Name()] = scale
			}
			if t, ok := avroType(f.Type()); ok {
				c.Cols = append(c.Cols, Column{f.Name(), t})
			}
		}
	case "protobuf":
		md, err := ProtoMessage(s)
		if err != nil {
			return nil, fmt.Errorf("protobuf schema %s@%d: %w", s.Name, s.Version, err)
		}
		c.proto = md
		c.Cols = protoColumns(md)
	default:
		return nil, nil
	}
	c.Cols = slices.DeleteFunc(c.Cols, func(col Column) bool { return col.Name == "" })
	if len(c.Cols) == 0 && !c.Binary() {
		return nil, nil
	}
	slices.SortFunc(c.Cols, func(a, b Column) int { return strings.Compare(a.Name, b.Name) })
	if len(c.Cols) > MaxColumns {
		c.Cols = c.Cols[:MaxColumns]
	}
	c.byName = make(map[string]Type, len(c.Cols))
	for _, col := range c.Cols {
		c.byName[col.Name] = col.Type
	}
	return c, nil
}

// Schema is the schema the columns come from.
func (c *Columns) Schema() *connector.Schema { return c.schema }

// Lookup is the type of the field named exactly name.
func (c *Columns) Lookup(name string) (Type, bool) {
	t, ok := c.byName[name]
	return t, ok
}

// Binary reports whether record values are Avro or Protobuf, which JSON
// renders as JSON objects; JSON Schema values are JSON already.
func (c *Columns) Binary() bool { return c.avro != nil || c.proto != nil }

// Record is JSON(r.Value), after checking that an
// Avro record was validated against this schema version (its
// connector.HeaderSchema header, when it has one).
func (c *Columns) Record(r connector.Record) ([]byte, error) {
	if c.avro != nil {
		want := fmt.Sprintf("%s@%d", c.schema.Name, c.schema.Version)
		for _, h := range r.Headers {
			if h.Key == connector.HeaderSchema && string(h.Value) != want {
				return nil, fmt.Errorf("%w: %.100q, not %s, whose schema the sink has", ErrVersion, h.Value, want)
			}
		}
	}
	return c.JSON(r.Value)
}

// JSON renders a record value as a JSON object. Avro values are decoded
// with the schema: top-level unions as their branch's value, timestamps
// and dates as in Type's doc, decimals as numbers, bytes as base64.
// Protobuf values render as protojson with the fields' proto names and
// unset fields as their defaults. JSON values are returned as they are.
func (c *Columns) JSON(value []byte) ([]byte, error) {
	switch {
	case c.avro != nil:
		var m map[string]any
		if err := avroAPI.Unmarshal(c.avro, value, &m); err != nil {
			return nil, fmt.Errorf("%w (avro %s@%d): %v", ErrValue, c.schema.Name, c.schema.Version, err)
		}
		for k, v := range m {
			m[k] = c.avroValue(k, v)
		}
		out, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("%w (avro %s@%d): %v", ErrValue, c.schema.Name, c.schema.Version, err)
		}
		return out, nil
	case c.proto != nil:
		m := dynamicpb.NewMessage(c.proto)
		if err := proto.Unmarshal(value, m); err != nil {
			return nil, fmt.Errorf("%w (protobuf %s@%d): %v", ErrValue, c.schema.Name, c.schema.Version, err)
		}
		out, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("%w (protobuf %s@%d): %v", ErrValue, c.schema.Name, c.schema.Version, err)
		}
		return out, nil
	}
	return value, nil
}

// ParseAvro parses an Avro schema. hamba/avro panics on some malformed
// schemas (an empty union with a default); that is an error here.
func ParseAvro(text []byte) (sch avro.Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			sch, err = nil, fmt.Errorf("invalid schema: %v", r)
		}
	}()
	return avro.ParseBytesWithCache(text, "", &avro.SchemaCache{})
}

// avroValue is a decoded top-level field as its column takes it.
func (c *Columns) avroValue(name string, v any) any {
	if u, ok := v.(map[string]any); ok && len(u) == 1 && c.unions[name] {
		for _, x := range u { // the branch, keyed by its type's name
			v = x
		}
	}
	if r, ok := v.(*big.Rat); ok {
		if scale, ok := c.scales[name]; ok {
			return json.Number(r.FloatString(scale))
		}
	}
	if ts, ok := v.(time.Time); ok {
		if c.byName[name] == Date {
			return ts.UTC().Format(time.DateOnly)
		}
		return ts.UTC().Format(time.RFC3339Nano)
	}
	return v
}

func jsonColumns(doc []byte) []Column {
	var s struct {
		Properties map[string]struct {
			Type   any    `json:"type"`
			Format string `json:"format"`
		} `json:"properties"`
	}
	if err := json.NewDecoder(bytes.NewReader(doc)).Decode(&s); err != nil {
		return nil
	}
	var out []Column
	for name, p := range s.Properties {
		var t Type
		switch jsonType(p.Type) {
		case "string":
			switch p.Format {
			case "date-time":
				t = Timestamp
			case "date":
				t = Date
			default:
				t = String
			}
		case "integer":
			t = Integer
		case "number":
			t = Float
		case "boolean":
			t = Boolean
		case "object", "array":
			t = JSON
		default:
			continue // no type, or several: the sink infers from values
		}
		out = append(out, Column{name, t})
	}
	return out
}

// jsonType is a property's one type: "string", or ["string", "null"].
func jsonType(t any) string {
	switch t := t.(type) {
	case string:
		return t
	case []any:
		var out string
		for _, e := range t {
			s, _ := e.(string)
			if s == "null" {
				continue
			}
			if out != "" {
				return ""
			}
			out = s
		}
		return out
	}
	return ""
}

// avroDecimal is the scale of a decimal, or nullable decimal, field.
// Decimals get no column type: the sink infers one from the number.
func avroDecimal(s avro.Schema) (int, bool) {
	if u, ok := s.(*avro.UnionSchema); ok && u.Nullable() {
		_, i := u.Indices()
		s = u.Types()[i]
	}
	if ls, ok := s.(avro.LogicalTypeSchema); ok && ls.Logical() != nil && ls.Logical().Type() == avro.Decimal {
		if d, ok := ls.Logical().(*avro.DecimalLogicalSchema); ok {
			return d.Scale(), true
		}
	}
	return 0, false
}

func avroType(s avro.Schema) (Type, bool) {
	if u, ok := s.(*avro.UnionSchema); ok {
		if !u.Nullable() {
			return 0, false
		}
		_, i := u.Indices()
		s = u.Types()[i]
	}
	if ls, ok := s.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		switch ls.Logical().Type() {
		case avro.TimestampMillis, avro.TimestampMicros:
			return Timestamp, true
		case avro.Date:
			return Date, true
		case avro.Decimal, avro.TimeMillis, avro.TimeMicros, avro.Duration:
			return 0, false
		}
	}
	switch s.Type() {
	case avro.String, avro.Enum:
		return String, true
	case avro.Int, avro.Long:
		return Integer, true
	case avro.Float, avro.Double:
		return Float, true
	case avro.Boolean:
		return Boolean, true
	case avro.Bytes, avro.Fixed:
		return Bytes, true
	case avro.Record, avro.Map, avro.Array:
		return JSON, true
	}
	return 0, false
}
