package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/parquet-go/parquet-go"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/schemacols"
)

// typedColumns adds, to Parquet objects of a station with a JSON Schema,
// Avro or Protobuf schema, a group "fields" holding one typed column per
// top-level field of scalar type (string, integer, number, boolean; for
// Avro and Protobuf also bytes and enums): analytics engines read them without parsing the value
// column, which stays, so the S3 source still restores every record. A
// record whose value does not decode, or a field of another type, leaves
// those columns null.
type typedColumns struct {
	fields  []typedField
	rowType reflect.Type // parquetRow's columns plus Fields
	schema  *parquet.Schema
	avro    avro.Schema                    // for Avro
	proto   protoreflect.MessageDescriptor // for Protobuf
}

type typedField struct {
	name string
	kind reflect.Kind // String, Int64, Float64, Bool, Slice ([]byte)
}

// maxTypedFields bounds the typed columns of one object.
const maxTypedFields = 1000

// newTypedColumns derives typed columns from s; nil when s is nil, not
// JSON Schema or Avro, or declares no scalar top-level field.
func newTypedColumns(s *connector.Schema) (*typedColumns, error) {
	if s == nil || len(s.Files) == 0 || (s.Type != "protobuf" && len(s.Files) != 1) {
		return nil, nil
	}
	t := &typedColumns{}
	switch s.Type {
	case "json":
		var doc struct {
			Properties map[string]struct {
				Type any `json:"type"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(s.Files[0].Content, &doc); err != nil {
			return nil, nil
		}
		for name, p := range doc.Properties {
			var kind reflect.Kind
			switch jsonScalar(p.Type) {
			case "string":
				kind = reflect.String
			case "integer":
				kind = reflect.Int64
			case "number":
				kind = reflect.Float64
			case "boolean":
				kind = reflect.Bool
			default:
				continue
			}
			t.fields = append(t.fields, typedField{name, kind})
		}
	case "avro":
		sch, err := schemacols.ParseAvro(s.Files[0].Content)
		if err != nil {
			return nil, fmt.Errorf("schema %s@%d: %w", s.Name, s.Version, err)
		}
		rec, ok := sch.(*avro.RecordSchema)
		if !ok {
			return nil, nil
		}
		t.avro = sch
		for _, f := range rec.Fields() {
			if kind, ok := avroScalar(f.Type()); ok {
				t.fields = append(t.fields, typedField{f.Name(), kind})
			}
		}
	case "protobuf":
		md, err := schemacols.ProtoMessage(s)
		if err != nil {
			return nil, fmt.Errorf("schema %s@%d: %w", s.Name, s.Version, err)
		}
		t.proto = md
		t.fields = protoFields(md)
	default:
		return nil, nil
	}
	// Names a struct tag cannot carry stay in the value column only.
	t.fields = slices.DeleteFunc(t.fields, func(f typedField) bool {
		return f.name == "" || strings.ContainsAny(f.name, ",\"`")
	})
	if len(t.fields) == 0 {
		return nil, nil
	}
	if len(t.fields) > maxTypedFields {
		t.fields = t.fields[:maxTypedFields]
	}
	slices.SortFunc(t.fields, func(a, b typedField) int { return strings.Compare(a.name, b.name) })
	t.build()
	return t, nil
}

func jsonScalar(t any) string {
	switch t := t.(type) {
	case string:
		return t
	case []any:
		// ["string", "null"]: nullable scalar.
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

func avroScalar(s avro.Schema) (reflect.Kind, bool) {
	if u, ok := s.(*avro.UnionSchema); ok {
		if !u.Nullable() {
			return 0, false
		}
		_, i := u.Indices()
		s = u.Types()[i]
	}
	switch s.Type() {
	case avro.String, avro.Enum:
		return reflect.String, true
	case avro.Int, avro.Long:
		return reflect.Int64, true
	case avro.Float, avro.Double:
		return reflect.Float64, true
	case avro.Boolean:
		return reflect.Bool, true
	case avro.Bytes:
		return reflect.Slice, true
	}
	return 0, false
}

func (t *typedColumns) build() {
	var fields []reflect.StructField
	for i, f := range t.fields {
		var typ reflect.Type
		switch f.kind {
		case reflect.String:
			typ = reflect.TypeFor[*string]()
		case reflect.Int64:
			typ = reflect.TypeFor[*int64]()
		case reflect.Float64:
			typ = reflect.TypeFor[*float64]()
		case reflect.Bool:
			typ = reflect.TypeFor[*bool]()
		default:
			typ = reflect.TypeFor[[]byte]()
		}
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: typ, Tag: reflect.StructTag(`parquet:"` + f.name + `,optional"`)})
	}
	base := reflect.TypeFor[parquetRow]()
	var row []reflect.StructField
	for i := range base.NumField() {
		row = append(row, base.Field(i))
	}
	row = append(row, reflect.StructField{Name: "Fields", Type: reflect.StructOf(fields), Tag: `parquet:"fields"`})
	t.rowType = reflect.StructOf(row)
	t.schema = parquet.SchemaOf(reflect.New(t.rowType).Interface())
}

// decode reads the typed fields of a record's value.
func (t *typedColumns) decode(value []byte) []any {
	if t.proto != nil {
		return t.decodeProto(value)
	}
	var m map[string]any
	if t.avro != nil {
		if err := avro.Unmarshal(t.avro, value, &m); err != nil {
			return nil
		}
	} else {
		d := json.NewDecoder(bytes.NewReader(value))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			return nil
		}
	}
	out := make([]any, len(t.fields))
	for i, f := range t.fields {
		v := m[f.name]
		if u, ok := v.(map[string]any); ok && len(u) == 1 && t.avro != nil {
			for _, x := range u { // a union branch, by type name
				v = x
			}
		}
		out[i] = scalar(v, f.kind)
	}
	return out
}

// scalar converts a decoded value to the column's type, nil when it is
// not of that type.
func scalar(v any, kind reflect.Kind) any {
	switch kind {
	case reflect.String:
		if s, ok := v.(string); ok {
			return s
		}
	case reflect.Int64:
		switch n := v.(type) {
		case json.Number:
			if i, err := n.Int64(); err == nil {
				return i
			}
		case int:
			return int64(n)
		case int32:
			return int64(n)
		case int64:
			return n
		}
	case reflect.Float64:
		switch n := v.(type) {
		case json.Number:
			if f, err := n.Float64(); err == nil {
				return f
			}
		case float32:
			return float64(n)
		case float64:
			return n
		}
	case reflect.Bool:
		if b, ok := v.(bool); ok {
			return b
		}
	case reflect.Slice:
		if b, ok := v.([]byte); ok {
			return b
		}
	}
	return nil
}

// encode writes rows, with their typed fields, as a Parquet file.
func (t *typedColumns) encode(rows []parquetRow, typed [][]any, codec parquet.WriterOption) ([]byte, error) {
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, t.schema, codec)
	rv := reflect.New(t.rowType)
	for i := range rows {
		row := rv.Elem()
		row.SetZero()
		base := reflect.ValueOf(rows[i])
		for j := range base.NumField() {
			row.Field(j).Set(base.Field(j))
		}
		fields := row.Field(base.NumField())
		if i < len(typed) {
			for j, v := range typed[i] {
				if v == nil {
					continue
				}
				f := fields.Field(j)
				if f.Kind() == reflect.Pointer {
					p := reflect.New(f.Type().Elem())
					p.Elem().Set(reflect.ValueOf(v))
					f.Set(p)
				} else {
					f.Set(reflect.ValueOf(v))
				}
			}
		}
		if err := w.Write(rv.Interface()); err != nil {
			return nil, fmt.Errorf("encode parquet: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encode parquet: %w", err)
	}
	return buf.Bytes(), nil
}
