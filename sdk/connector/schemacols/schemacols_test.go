package schemacols

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/junctionhq/junction/sdk/connector"
)

func schema(typ, text string) *connector.Schema {
	return &connector.Schema{Name: "s", Version: 1, Type: typ, Message: "shop.Order", Files: []connector.SchemaFile{{Name: "s.proto", Content: []byte(text)}}}
}

func describe(c *Columns) string {
	if c == nil {
		return "<nil>"
	}
	out := make([]string, len(c.Cols))
	for i, col := range c.Cols {
		out[i] = col.Name + ":" + col.Type.String()
	}
	return strings.Join(out, " ")
}

const avroOrder = `{"type":"record","name":"Order","fields":[
	{"name":"id","type":"long"},
	{"name":"name","type":["null","string"],"default":null},
	{"name":"price","type":"double"},
	{"name":"ok","type":"boolean"},
	{"name":"blob","type":"bytes"},
	{"name":"size","type":{"type":"enum","name":"Size","symbols":["S","L"]}},
	{"name":"at","type":{"type":"long","logicalType":"timestamp-micros"}},
	{"name":"day","type":{"type":"int","logicalType":"date"}},
	{"name":"tags","type":{"type":"array","items":"string"}},
	{"name":"either","type":["string","long"]},
	{"name":"cost","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}}]}`

const protoOrder = `syntax = "proto3";
package shop;
import "google/protobuf/timestamp.proto";
enum Size { S = 0; L = 1; }
message Order {
	int64 id = 1;
	string name = 2;
	double price = 3;
	bool ok = 4;
	bytes blob = 5;
	Size size = 6;
	google.protobuf.Timestamp at = 7;
	repeated string tags = 8;
	map<string, int32> counts = 9;
	Order parent = 10;
	uint32 small = 11;
}`

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *connector.Schema
		want string
	}{
		{"nil", nil, "<nil>"},
		{"graphql", schema("graphql", "type Query { a: Int }"), "<nil>"},
		{"json", schema("json", `{"type":"object","properties":{
			"id":{"type":"integer"},"name":{"type":["string","null"]},"price":{"type":"number"},"ok":{"type":"boolean"},
			"at":{"type":"string","format":"date-time"},"day":{"type":"string","format":"date"},
			"tags":{"type":"array"},"meta":{"type":"object"},"any":{},"two":{"type":["string","integer"]}}}`),
			"at:timestamp day:date id:integer meta:json name:string ok:boolean price:float tags:json"},
		{"json not an object", schema("json", `{"type":"string"}`), "<nil>"},
		{"json invalid", schema("json", `{`), "<nil>"},
		{"avro", schema("avro", avroOrder), "at:timestamp blob:bytes day:date id:integer name:string ok:boolean price:float size:string tags:json"},
		{"avro not a record", schema("avro", `"string"`), "<nil>"},
		{"avro without typed fields", schema("avro", `{"type":"record","name":"R","fields":[{"name":"n","type":"null"}]}`), ""},
		{"protobuf", schema("protobuf", protoOrder), "at:timestamp blob:bytes counts:json id:integer name:string ok:boolean parent:json price:float size:string small:integer tags:json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(c); got != tc.want {
				t.Fatalf("columns:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	for _, s := range []*connector.Schema{
		schema("avro", `{"type":"record"`),
		schema("protobuf", `message {`),
		{Name: "s", Version: 1, Type: "protobuf", Message: "shop.Missing", Files: []connector.SchemaFile{{Name: "s.proto", Content: []byte(protoOrder)}}},
	} {
		if c, err := New(s); err == nil || !strings.Contains(err.Error(), "s@1") {
			t.Errorf("New(%s %q) = %v, %v; want an error naming the schema", s.Type, s.Files[0].Content, c, err)
		}
	}
}

func TestAvroJSON(t *testing.T) {
	c, err := New(schema("avro", avroOrder))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 12, 0, 0, 1000, time.FixedZone("x", 3600))
	v, err := avro.Marshal(avro.MustParse(avroOrder), map[string]any{
		"id": int64(7), "name": map[string]any{"string": "apple"}, "price": 1.5, "ok": true, "blob": []byte{1, 2},
		"size": "L", "at": at, "day": time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), "tags": []any{"x"},
		"either": map[string]any{"long": int64(3)}, "cost": big.NewRat(1234, 100),
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.JSON(v)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": 7.0, "name": "apple", "price": 1.5, "ok": true, "blob": "AQI=", "size": "L",
		"at": "2025-03-01T11:00:00.000001Z", "day": "2025-03-01", "tags": []any{"x"}, "either": 3.0, "cost": 12.34}
	for k, w := range want {
		if fmt.Sprint(got[k]) != fmt.Sprint(w) {
			t.Errorf("%s = %v, want %v (all: %s)", k, got[k], w, out)
		}
	}
	if _, err := c.JSON([]byte{0x02, 0x01}); !errors.Is(err, ErrValue) {
		t.Fatalf("JSON(bad) = %v, want ErrValue", err)
	}
	if out, err := c.Record(connector.Record{Value: v, Headers: []connector.Header{{Key: connector.HeaderSchema, Value: []byte("s@1")}}}); err != nil || !json.Valid(out) {
		t.Fatalf("Record(s@1) = %s, %v", out, err)
	}
	if _, err := c.Record(connector.Record{Value: v, Headers: []connector.Header{{Key: connector.HeaderSchema, Value: []byte("s@2")}}}); !errors.Is(err, ErrVersion) {
		t.Fatalf("Record(s@2) = %v, want ErrVersion", err)
	}
}

func TestProtobufJSON(t *testing.T) {
	s := schema("protobuf", protoOrder)
	c, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	md, err := ProtoMessage(s)
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("id"), protoreflect.ValueOfInt64(1<<40))
	m.Set(md.Fields().ByName("size"), protoreflect.ValueOfEnum(1))
	v, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.JSON(v)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if got["id"] != "1099511627776" || got["size"] != "L" || got["name"] != "" || got["ok"] != false {
		t.Fatalf("JSON = %s", out)
	}
	if _, err := c.JSON([]byte{0xff}); !errors.Is(err, ErrValue) {
		t.Fatalf("JSON(bad) = %v, want ErrValue", err)
	}
}

func TestJSONSchemaValuesPass(t *testing.T) {
	c, err := New(schema("json", `{"properties":{"a":{"type":"integer"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Binary() {
		t.Fatal("JSON Schema values reported binary")
	}
	if out, err := c.JSON([]byte(`{"a":1}`)); err != nil || string(out) != `{"a":1}` {
		t.Fatalf("JSON = %s, %v", out, err)
	}
}

// FuzzJSON decodes arbitrary values with an Avro and a Protobuf schema:
// any value either renders as a JSON object or fails with ErrValue.
func FuzzJSON(f *testing.F) {
	av, err := New(schema("avro", avroOrder))
	if err != nil {
		f.Fatal(err)
	}
	pb, err := New(schema("protobuf", protoOrder))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{0x02, 0x01})
	f.Fuzz(func(t *testing.T, value []byte) {
		for _, c := range []*Columns{av, pb} {
			out, err := c.JSON(value)
			if err != nil {
				if !errors.Is(err, ErrValue) {
					t.Fatalf("error without ErrValue: %v", err)
				}
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil || m == nil {
				t.Fatalf("JSON = %q: not an object (%v)", out, err)
			}
		}
	})
}

// FuzzNew derives columns from arbitrary JSON Schema and Avro schema text.
func FuzzNew(f *testing.F) {
	f.Add("json", `{"properties":{"a":{"type":["integer","null"]}}}`)
	f.Add("avro", avroOrder)
	f.Fuzz(func(t *testing.T, typ, text string) {
		if typ != "json" && typ != "avro" {
			return
		}
		c, err := New(schema(typ, text))
		if err != nil || c == nil {
			return
		}
		if len(c.Cols) == 0 && !c.Binary() || len(c.Cols) > MaxColumns {
			t.Fatalf("%d columns", len(c.Cols))
		}
		for _, col := range c.Cols {
			if col.Name == "" || col.Type < String || col.Type > Date {
				t.Fatalf("column %+v", col)
			}
		}
	})
}
