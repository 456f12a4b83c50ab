package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/bigquery/storage/managedwriter/adapt"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/junctionhq/junction/sdk/connector"
)

// Columns of json mode.
const (
	colStation    = "station"
	colPartition  = "partition"
	colOffset     = "offset"
	colTimestamp  = "timestamp"
	colKey        = "key"
	colHeaders    = "headers"
	colValue      = "value"
	colValueBytes = "value_bytes"
)

// Metadata columns of columns mode; the prefix keeps them apart from the
// records' own fields (BigQuery reserves _PARTITION...).
const (
	metaStation   = "_junction_station"
	metaPartition = "_junction_partition"
	metaOffset    = "_junction_offset"
	metaTimestamp = "_junction_timestamp"
)

// jsonSchema is the table schema of json mode.
func jsonSchema() bigquery.Schema {
	return bigquery.Schema{
		{Name: colStation, Type: bigquery.StringFieldType, Required: true, Description: "Station the record came from."},
		{Name: colPartition, Type: bigquery.IntegerFieldType, Required: true, Description: "Station partition."},
		{Name: colOffset, Type: bigquery.IntegerFieldType, Required: true, Description: "Offset in the station partition."},
		{Name: colTimestamp, Type: bigquery.TimestampFieldType, Description: "Record timestamp."},
		{Name: colKey, Type: bigquery.BytesFieldType, Description: "Record key."},
		{Name: colHeaders, Type: bigquery.RecordFieldType, Repeated: true, Description: "Record headers, in order.", Schema: bigquery.Schema{
			{Name: "key", Type: bigquery.StringFieldType, Required: true},
			{Name: "value", Type: bigquery.BytesFieldType},
		}},
		{Name: colValue, Type: bigquery.JSONFieldType, Description: "Record value: as is when it is JSON (other than a JSON string), else as a JSON string when it is UTF-8 text."},
		{Name: colValueBytes, Type: bigquery.BytesFieldType, Description: "Record value when it is neither JSON nor UTF-8 text."},
	}
}

// metaSchema is the metadata columns of columns mode.
func metaSchema() bigquery.Schema {
	return bigquery.Schema{
		{Name: metaStation, Type: bigquery.StringFieldType, Required: true},
		{Name: metaPartition, Type: bigquery.IntegerFieldType, Required: true},
		{Name: metaOffset, Type: bigquery.IntegerFieldType, Required: true},
		{Name: metaTimestamp, Type: bigquery.TimestampFieldType},
	}
}

// checkSchema reports the first column of want that have lacks or holds
// with another type or mode.
func checkSchema(have, want bigquery.Schema) error {
	byName := make(map[string]*bigquery.FieldSchema, len(have))
	for _, f := range have {
		byName[strings.ToLower(f.Name)] = f
	}
	for _, w := range want {
		h, ok := byName[strings.ToLower(w.Name)]
		if !ok {
			return fmt.Errorf("column %s is missing (want %s)", w.Name, w.Type)
		}
		if normType(h.Type) != normType(w.Type) || h.Repeated != w.Repeated {
			return fmt.Errorf("column %s is %s%s, want %s%s", w.Name, repeated(h.Repeated), h.Type, repeated(w.Repeated), w.Type)
		}
		if h.Required && !w.Required {
			return fmt.Errorf("column %s is REQUIRED, want NULLABLE", w.Name)
		}
		if w.Type == bigquery.RecordFieldType {
			if err := checkSchema(h.Schema, w.Schema); err != nil {
				return fmt.Errorf("in column %s: %w", w.Name, err)
			}
		}
	}
	return nil
}

func repeated(r bool) string {
	if r {
		return "REPEATED "
	}
	return ""
}

func normType(t bigquery.FieldType) bigquery.FieldType {
	switch t {
	case "INT64":
		return bigquery.IntegerFieldType
	case "FLOAT64":
		return bigquery.FloatFieldType
	case "BOOL":
		return bigquery.BooleanFieldType
	case "STRUCT":
		return bigquery.RecordFieldType
	}
	return t
}

// rowCodec encodes records as protocol buffer rows of one table schema, as
// the Storage Write API takes them, writing the wire format directly.
type rowCodec struct {
	mode    string
	station string
	schema  bigquery.Schema
	desc    *descriptorpb.DescriptorProto
	// fields maps a lower-cased column name to its proto field.
	fields map[string]protoField
	// headerKey and headerValue are the field numbers inside headers.
	headerKey, headerValue protowire.Number
}

type protoField struct {
	num  protowire.Number
	typ  bigquery.FieldType
	name string
}

func newRowCodec(mode, station string, schema bigquery.Schema) (*rowCodec, error) {
	ts, err := adapt.BQSchemaToStorageTableSchema(schema)
	if err != nil {
		return nil, fmt.Errorf("convert table schema: %w", err)
	}
	d, err := adapt.StorageSchemaToProto2Descriptor(ts, "root")
	if err != nil {
		return nil, fmt.Errorf("build row descriptor: %w", err)
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, errors.New("build row descriptor: not a message")
	}
	dp, err := adapt.NormalizeDescriptor(md)
	if err != nil {
		return nil, fmt.Errorf("normalize row descriptor: %w", err)
	}
	c := &rowCodec{mode: mode, station: station, schema: schema, desc: dp, fields: make(map[string]protoField)}
	for _, f := range schema {
		fd := md.Fields().ByName(protoreflect.Name(strings.ToLower(f.Name)))
		if fd == nil {
			fd = md.Fields().ByName(protoreflect.Name(f.Name))
		}
		if fd == nil {
			continue // a column name the proto conversion renamed: left NULL
		}
		c.fields[strings.ToLower(f.Name)] = protoField{num: fd.Number(), typ: normType(f.Type), name: f.Name}
		if strings.EqualFold(f.Name, colHeaders) && mode == "json" && fd.Message() != nil {
			c.headerKey = fd.Message().Fields().ByName("key").Number()
			c.headerValue = fd.Message().Fields().ByName("value").Number()
		}
	}
	return c, nil
}

// encode appends r as one row to buf. In columns mode a record that does
// not fit the table is an error saying why; unknown top-level fields are
// returned in missing instead (to evolve the schema), with buf unchanged.
func (c *rowCodec) encode(buf []byte, r connector.Record) (row []byte, missing []newColumn, err error) {
	if c.mode == "json" {
		return c.encodeJSON(buf, r), nil, nil
	}
	return c.encodeColumns(buf, r)
}

func (c *rowCodec) encodeJSON(b []byte, r connector.Record) []byte {
	b = c.appendString(b, colStation, c.station)
	b = c.appendInt(b, colPartition, int64(r.Partition))
	b = c.appendInt(b, colOffset, int64(r.Offset))
	if !r.Timestamp.IsZero() {
		b = c.appendInt(b, colTimestamp, r.Timestamp.UnixMicro())
	}
	if len(r.Key) > 0 {
		b = c.appendBytes(b, colKey, r.Key)
	}
	if f, ok := c.fields[colHeaders]; ok {
		for _, h := range r.Headers {
			var sub []byte
			sub = protowire.AppendTag(sub, c.headerKey, protowire.BytesType)
			sub = protowire.AppendString(sub, h.Key)
			if len(h.Value) > 0 {
				sub = protowire.AppendTag(sub, c.headerValue, protowire.BytesType)
				sub = protowire.AppendBytes(sub, h.Value)
			}
			b = protowire.AppendTag(b, f.num, protowire.BytesType)
			b = protowire.AppendBytes(b, sub)
		}
	}
	switch v, isText := jsonValue(r.Value); {
	case v != nil:
		b = c.appendBytes(b, colValue, v)
	case !isText && len(r.Value) > 0:
		b = c.appendBytes(b, colValueBytes, r.Value)
	}
	return b
}

// jsonValue is the value column for a record value: the value itself when
// it is JSON other than a JSON string, a JSON string when it is UTF-8
// text, nil (with isText false) when it is binary or empty.
func jsonValue(v []byte) (out []byte, isText bool) {
	if len(v) == 0 || !utf8.Valid(v) {
		return nil, false
	}
	if first := firstNonSpace(v); first != 0 && first != '"' && json.Valid(v) {
		return v, true
	}
	s, _ := json.Marshal(string(v))
	return s, true
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

func (c *rowCodec) appendString(b []byte, col, v string) []byte {
	if f, ok := c.fields[col]; ok {
		b = protowire.AppendTag(b, f.num, protowire.BytesType)
		b = protowire.AppendString(b, v)
	}
	return b
}

func (c *rowCodec) appendBytes(b []byte, col string, v []byte) []byte {
	if f, ok := c.fields[col]; ok {
		b = protowire.AppendTag(b, f.num, protowire.BytesType)
		b = protowire.AppendBytes(b, v)
	}
	return b
}

func (c *rowCodec) appendInt(b []byte, col string, v int64) []byte {
	if f, ok := c.fields[col]; ok {
		b = protowire.AppendTag(b, f.num, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(v))
	}
	return b
}

// newColumn is a top-level field of a record that the table lacks, with
// the type its value suggests.
type newColumn struct {
	Name string
	Type bigquery.FieldType
}

var columnNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,299}$`)

// errNotObject is returned for columns mode records whose value is not a
// JSON object.
var errNotObject = errors.New("the value is not a JSON object, which columns mode needs")

func (c *rowCodec) encodeColumns(buf []byte, r connector.Record) ([]byte, []newColumn, error) {
	dec := json.NewDecoder(bytes.NewReader(r.Value))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return buf, nil, errNotObject
	}
	if dec.More() {
		return buf, nil, errNotObject
	}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	var missing []newColumn
	for _, name := range names {
		if _, ok := c.fields[strings.ToLower(name)]; ok {
			continue
		}
		raw := obj[name]
		typ := inferType(raw)
		if typ == "" {
			continue // null: nothing to add a column for
		}
		if !columnNameRE.MatchString(name) || strings.HasPrefix(strings.ToLower(name), "_junction_") || isReserved(name) {
			return buf, nil, fmt.Errorf("field %q cannot be a column name (letters, digits and underscores, not starting with a digit)", name)
		}
		missing = append(missing, newColumn{Name: name, Type: typ})
	}
	if len(missing) > 0 {
		return buf, missing, nil
	}
	b := buf
	b = c.appendString(b, metaStation, c.station)
	b = c.appendInt(b, metaPartition, int64(r.Partition))
	b = c.appendInt(b, metaOffset, int64(r.Offset))
	if !r.Timestamp.IsZero() {
		b = c.appendInt(b, metaTimestamp, r.Timestamp.UnixMicro())
	}
	for _, name := range names {
		f := c.fields[strings.ToLower(name)]
		var err error
		if b, err = appendColumn(b, f, obj[name]); err != nil {
			return buf, nil, fmt.Errorf("field %q: %w", name, err)
		}
	}
	return b, nil, nil
}

func isReserved(name string) bool {
	u := strings.ToUpper(name)
	for _, p := range []string{"_TABLE_", "_FILE_", "_PARTITION", "_ROW_TIMESTAMP", "__ROOT__", "_COLIDENTIFIER", "_CHANGE_"} {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

// inferType is the column type for a JSON value: INTEGER for integral
// numbers, FLOAT for others, STRING, BOOLEAN, JSON for objects and arrays,
// "" for null.
func inferType(raw json.RawMessage) bigquery.FieldType {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return ""
	}
	switch t[0] {
	case 'n':
		return ""
	case '"':
		return bigquery.StringFieldType
	case 't', 'f':
		return bigquery.BooleanFieldType
	case '{', '[':
		return bigquery.JSONFieldType
	}
	if _, err := strconv.ParseInt(string(t), 10, 64); err == nil {
		return bigquery.IntegerFieldType
	}
	return bigquery.FloatFieldType
}

// appendColumn encodes one JSON value into the column f.
func appendColumn(b []byte, f protoField, raw json.RawMessage) ([]byte, error) {
	t := bytes.TrimSpace(raw)
	if string(t) == "null" {
		return b, nil
	}
	var s string
	isString := len(t) > 0 && t[0] == '"'
	if isString {
		if err := json.Unmarshal(t, &s); err != nil {
			return b, err
		}
	}
	mismatch := func() error { return fmt.Errorf("%s does not fit column %s of type %s", clip(t), f.name, f.typ) }
	switch f.typ {
	case bigquery.StringFieldType:
		if !isString {
			s = string(t)
		}
		b = protowire.AppendTag(b, f.num, protowire.BytesType)
		return protowire.AppendString(b, s), nil
	case bigquery.JSONFieldType:
		b = protowire.AppendTag(b, f.num, protowire.BytesType)
		return protowire.AppendBytes(b, t), nil
	case bigquery.IntegerFieldType:
		if !isString {
			s = string(t)
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return b, mismatch()
		}
		b = protowire.AppendTag(b, f.num, protowire.VarintType)
		return protowire.AppendVarint(b, uint64(v)), nil
	case bigquery.FloatFieldType:
		if !isString {
			s = string(t)
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(v, 0) && !isString {
			return b, mismatch()
		}
		b = protowire.AppendTag(b, f.num, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(v)), nil
	case bigquery.BooleanFieldType:
		var v bool
		switch {
		case string(t) == "true" || isString && s == "true":
			v = true
		case string(t) == "false" || isString && s == "false":
		default:
			return b, mismatch()
		}
		b = protowire.AppendTag(b, f.num, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeBool(v)), nil
	case bigquery.TimestampFieldType:
		var ts time.Time
		var err error
		if isString {
			ts, err = time.Parse(time.RFC3339Nano, s)
		} else {
			err = errors.New("not a string")
		}
		if err != nil {
			return b, fmt.Errorf("%s does not fit TIMESTAMP column %s: want an RFC 3339 string such as \"2025-03-01T12:00:00Z\"", clip(t), f.name)
		}
		b = protowire.AppendTag(b, f.num, protowire.VarintType)
		return protowire.AppendVarint(b, uint64(ts.UnixMicro())), nil
	case bigquery.DateFieldType:
		d, err := time.Parse("2006-01-02", s)
		if !isString || err != nil {
			return b, fmt.Errorf("%s does not fit DATE column %s: want a string such as \"2025-03-01\"", clip(t), f.name)
		}
		days := int32(d.Unix() / 86400)
		b = protowire.AppendTag(b, f.num, protowire.VarintType)
		return protowire.AppendVarint(b, uint64(int64(days))), nil
	case bigquery.BytesFieldType:
		v, err := base64.StdEncoding.DecodeString(s)
		if !isString || err != nil {
			return b, fmt.Errorf("%s does not fit BYTES column %s: want a base64 string", clip(t), f.name)
		}
		b = protowire.AppendTag(b, f.num, protowire.BytesType)
		return protowire.AppendBytes(b, v), nil
	}
	return b, fmt.Errorf("column %s has type %s, which columns mode does not write", f.name, f.typ)
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
