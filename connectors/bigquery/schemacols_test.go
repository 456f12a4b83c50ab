package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/schemacols"
)

// openSchemaSink opens a sink on station "orders" with schema s attached;
// the caller tears it down.
func openSchemaSink(t *testing.T, cfg map[string]any, s *connector.Schema) connector.Sink {
	t.Helper()
	snk, err := buildSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snk.Open(context.Background(), connector.SinkInfo{Connector: "to-bq", Station: "orders", Partitions: 1, Schema: s}); err != nil {
		t.Fatalf("Open: %v", err)
	}
	return snk
}

// dataColumns is the table's columns other than the metadata ones, as
// name:TYPE in table order.
func dataColumns(f *fakeBQ) string {
	var cols []string
	for _, c := range f.table("ds", "events").Schema.Fields {
		if !strings.HasPrefix(c.Name, "_junction_") {
			cols = append(cols, c.Name+":"+c.Type)
		}
	}
	return strings.Join(cols, " ")
}

// TestSchemaJSONColumns creates the table at Open with the types of the
// station's JSON Schema, where the values alone would suggest others, and
// fails a value that does not fit its column on its own.
func TestSchemaJSONColumns(t *testing.T) {
	f := newFakeBQ(t)
	schema := &connector.Schema{Name: "orders", Version: 1, Type: "json", Files: []connector.SchemaFile{{Name: "orders.json", Content: []byte(`{
		"type": "object",
		"properties": {
			"id": {"type": "integer"},
			"name": {"type": ["string", "null"]},
			"price": {"type": "number"},
			"ok": {"type": "boolean"},
			"at": {"type": "string", "format": "date-time"},
			"day": {"type": "string", "format": "date"},
			"tags": {"type": "array"},
			"any": {}
		}}`)}}}
	snk := openSchemaSink(t, f.config(map[string]any{"mode": "columns"}), schema)
	defer snk.Teardown(context.Background())
	if got, want := dataColumns(f), "at:TIMESTAMP day:DATE id:INTEGER name:STRING ok:BOOLEAN price:FLOAT tags:JSON"; got != want {
		t.Fatalf("columns after Open:\n got %s\nwant %s", got, want)
	}
	err := snk.Write(context.Background(), []connector.Record{
		jsonRecord(0, 0, `{"id":1,"name":"apple","price":2,"ok":true,"at":"2025-03-01T12:00:00Z","day":"2025-03-01","tags":["x"]}`),
		jsonRecord(0, 1, `{"id":"two"}`),
		jsonRecord(0, 2, `{"id":3,"name":null,"price":1.5}`),
	})
	var be *connector.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || !strings.Contains(be.Failed[1].Error(), `"two" does not fit column id of type INTEGER`) {
		t.Fatalf("Write = %v, want record 1 failed", err)
	}
	rows := f.rows("ds", "events")
	if len(rows) != 2 {
		t.Fatalf("rows = %v", rows)
	}
	r := rows[0]
	if r["id"] != int64(1) || r["price"] != 2.0 || r["ok"] != true || r["at"] != base.UnixMicro() || r["day"] != int64(20148) || r["tags"] != `["x"]` {
		t.Fatalf("row 0 = %v", r)
	}
	if r := rows[1]; r["id"] != int64(3) || r["price"] != 1.5 || r["name"] != nil {
		t.Fatalf("row 1 = %v", r)
	}
}

const avroV1 = `{"type":"record","name":"Order","fields":[
	{"name":"id","type":"long"},
	{"name":"name","type":"string"},
	{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}}]}`

const avroV2 = `{"type":"record","name":"Order","fields":[
	{"name":"id","type":"long"},
	{"name":"name","type":"string"},
	{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
	{"name":"score","type":["null","double"],"default":null}]}`

func avroSchema(version uint32, text string) *connector.Schema {
	return &connector.Schema{Name: "orders", Version: version, Type: "avro", Files: []connector.SchemaFile{{Name: "orders.avsc", Content: []byte(text)}}}
}

func avroRecords(t *testing.T, text string, first uint64, values ...map[string]any) []connector.Record {
	t.Helper()
	sch := avro.MustParse(text)
	out := make([]connector.Record, len(values))
	for i, v := range values {
		b, err := avro.Marshal(sch, v)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = connector.Record{Value: b, Offset: first + uint64(i), Timestamp: base}
	}
	return out
}

// TestSchemaAvroColumnsEvolve writes Avro records to a table created with
// the types of the station's Avro schema; after the schema gains a field,
// the reopened sink adds its column with the schema's type before any
// record carries it, and stays exactly once.
func TestSchemaAvroColumnsEvolve(t *testing.T) {
	f := newFakeBQ(t)
	cfg := f.config(map[string]any{"mode": "columns", "evolve_schema": true})
	snk := openSchemaSink(t, cfg, avroSchema(1, avroV1))
	if got, want := dataColumns(f), "at:TIMESTAMP id:INTEGER name:STRING"; got != want {
		t.Fatalf("columns:\n got %s\nwant %s", got, want)
	}
	recs := avroRecords(t, avroV1, 0, map[string]any{"id": int64(1), "name": "apple", "at": base})
	recs = append(recs, connector.Record{Value: []byte{0x02, 0x01}, Offset: 1, Timestamp: base})
	err := snk.Write(context.Background(), recs)
	var be *connector.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || !errors.Is(be.Failed[1], schemacols.ErrValue) {
		t.Fatalf("Write = %v, want record 1 failed to decode", err)
	}
	if err := snk.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The schema changes; the host reopens the sink.
	snk = openSchemaSink(t, cfg, avroSchema(2, avroV2))
	defer snk.Teardown(context.Background())
	if got, want := dataColumns(f), "at:TIMESTAMP id:INTEGER name:STRING score:FLOAT"; got != want {
		t.Fatalf("columns after the schema change:\n got %s\nwant %s", got, want)
	}
	recs = avroRecords(t, avroV2, 2,
		map[string]any{"id": int64(2), "name": "pear", "at": base, "score": map[string]any{"double": 2.5}},
		map[string]any{"id": int64(3), "name": "fig", "at": base, "score": nil},
	)
	recs[0].Headers = []connector.Header{{Key: connector.HeaderSchema, Value: []byte("orders@2")}}
	// A record of the backlog, written with version 1, cannot be decoded
	// with version 2.
	old := avroRecords(t, avroV1, 4, map[string]any{"id": int64(4), "name": "kiwi", "at": base})[0]
	old.Headers = []connector.Header{{Key: connector.HeaderSchema, Value: []byte("orders@1")}}
	err = snk.Write(context.Background(), append(recs, old))
	if !errors.As(err, &be) || len(be.Failed) != 1 || !errors.Is(be.Failed[2], schemacols.ErrVersion) {
		t.Fatalf("Write = %v, want record 2 failed for its schema version", err)
	}
	rows := f.rows("ds", "events")
	if len(rows) != 3 {
		t.Fatalf("rows = %v", rows)
	}
	for i, want := range []struct {
		id    int64
		score any
	}{{1, nil}, {2, 2.5}, {3, nil}} {
		if r := rows[i]; r["id"] != want.id || r["score"] != want.score || r["at"] != base.UnixMicro() {
			t.Fatalf("row %d = %v, want id %d score %v", i, r, want.id, want.score)
		}
	}
}

// TestSchemaProtobufColumns writes Protobuf records to a table created
// with the types of the station's Protobuf message.
func TestSchemaProtobufColumns(t *testing.T) {
	f := newFakeBQ(t)
	schema := &connector.Schema{Name: "orders", Version: 1, Type: "protobuf", Message: "shop.Order", Files: []connector.SchemaFile{{Name: "shop/order.proto", Content: []byte(`
		syntax = "proto3";
		package shop;
		import "google/protobuf/timestamp.proto";
		enum Size { SMALL = 0; LARGE = 1; }
		message Order {
			int64 id = 1;
			string name = 2;
			double price = 3;
			bool ok = 4;
			Size size = 5;
			bytes blob = 6;
			repeated string tags = 7;
			google.protobuf.Timestamp at = 8;
		}`)}}}
	snk := openSchemaSink(t, f.config(map[string]any{"mode": "columns"}), schema)
	defer snk.Teardown(context.Background())
	if got, want := dataColumns(f), "at:TIMESTAMP blob:BYTES id:INTEGER name:STRING ok:BOOLEAN price:FLOAT size:STRING tags:JSON"; got != want {
		t.Fatalf("columns:\n got %s\nwant %s", got, want)
	}
	md := protoDescriptor(t, schema)
	m := dynamicpb.NewMessage(md)
	fd := md.Fields()
	m.Set(fd.ByName("id"), protoreflect.ValueOfInt64(1<<40))
	m.Set(fd.ByName("name"), protoreflect.ValueOfString("apple"))
	m.Set(fd.ByName("price"), protoreflect.ValueOfFloat64(1.5))
	m.Set(fd.ByName("size"), protoreflect.ValueOfEnum(1))
	m.Set(fd.ByName("blob"), protoreflect.ValueOfBytes([]byte{0, 1, 2}))
	tags := m.Mutable(fd.ByName("tags")).List()
	tags.Append(protoreflect.ValueOfString("x"))
	at := m.Mutable(fd.ByName("at")).Message()
	at.Set(at.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(base.Unix()))
	value, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	write(t, snk, []connector.Record{{Value: value, Timestamp: base}})
	rows := f.rows("ds", "events")
	if len(rows) != 1 {
		t.Fatalf("rows = %v", rows)
	}
	r := rows[0]
	if r["id"] != int64(1<<40) || r["name"] != "apple" || r["price"] != 1.5 || r["ok"] != false || r["size"] != "LARGE" ||
		string(r["blob"].([]byte)) != "\x00\x01\x02" || r["at"] != base.UnixMicro() || r["tags"] != `["x"]` {
		t.Fatalf("row = %v", r)
	}
}

func protoDescriptor(t *testing.T, s *connector.Schema) protoreflect.MessageDescriptor {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{s.Files[0].Name: string(s.Files[0].Content)}),
	})}
	files, err := c.Compile(context.Background(), s.Files[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	return files[0].Messages().ByName("Order")
}
