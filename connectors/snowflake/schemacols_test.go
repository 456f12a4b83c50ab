package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/junctionhq/junction/connectors/snowflake/internal/sffake"
	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/schemacols"
)

// openSchemaSink opens a columns mode sink on a station with schema s.
func openSchemaSink(t *testing.T, cfg map[string]any, s *connector.Schema) *sink {
	t.Helper()
	c, err := definition().Sink.Decode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	snk, err := newSink(c.(SinkConfig))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = snk.Teardown(context.Background()) })
	if _, err := snk.Open(context.Background(), connector.SinkInfo{Connector: "test", Station: "orders", Partitions: 1, Schema: s}); err != nil {
		t.Fatalf("Open: %v", err)
	}
	return snk.(*sink)
}

// columnTypes is the table's columns as NAME:TYPE, in name order, with
// VARCHAR lengths left out.
func columnTypes(t *testing.T, snk *sink) string {
	t.Helper()
	cols, err := describe(context.Background(), snk.db, snk.table)
	if err != nil {
		t.Fatal(err)
	}
	if cols == nil {
		return ""
	}
	set := newColumnSet(cols)
	out := make([]string, len(set.names))
	for i, n := range set.names {
		typ, _, _ := strings.Cut(set.types[i], "(")
		if typ == "NUMBER" {
			typ = set.types[i]
		}
		out[i] = n + ":" + typ
	}
	return strings.Join(out, " ")
}

// TestSchemaJSONColumns creates the table at Open from a JSON Schema, with
// its types, even where the first values would suggest others, and
// reports a value that does not fit its column per record.
func TestSchemaJSONColumns(t *testing.T) {
	f := sffake.New(t)
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
	snk := openSchemaSink(t, fakeConfig(f, map[string]any{"mode": "columns"}), schema)
	if got, want := columnTypes(t, snk), "AT:TIMESTAMP_NTZ DAY:DATE ID:NUMBER(38,0) NAME:VARCHAR OK:BOOLEAN PRICE:FLOAT TAGS:VARIANT"; got != want {
		t.Fatalf("columns after Open:\n got %s\nwant %s", got, want)
	}
	err := snk.Write(context.Background(), jsonRecords(0, 0,
		`{"id":1,"name":"apple","price":2,"ok":true,"at":"2025-03-01T13:00:00+01:00","day":"2025-03-01","tags":["x"]}`,
		`{"id":"two","name":"pear"}`,
		`{"id":3,"name":null,"price":1.5}`,
	))
	var be *connector.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || be.Failed[1] == nil {
		t.Fatalf("Write = %v, want record 1 failed", err)
	}
	if got, want := cells(t, f, `SELECT "ID", "NAME", "PRICE", "OK", "DAY", "TAGS" FROM `+table+` ORDER BY "ID"`),
		"1|apple|2|1|20148|[\"x\"]\n3|NULL|1.5|NULL|NULL|NULL"; got != want {
		t.Fatalf("table:\n%s\nwant:\n%s", got, want)
	}
	// 2025-03-01T12:00:00Z
	if got, want := cells(t, f, `SELECT "AT" FROM `+table+` WHERE "ID" = 1`), "1740830400.000000000"; got != want {
		t.Fatalf("AT = %s, want %s", got, want)
	}
	if got, want := string(snk.utc("at", json.RawMessage(`"2025-03-01T13:00:00+01:00"`))), `"2025-03-01T12:00:00Z"`; got != want {
		t.Fatalf("utc = %s, want %s", got, want)
	}
	if got, want := string(snk.utc("name", json.RawMessage(`"2025-03-01T13:00:00+01:00"`))), `"2025-03-01T13:00:00+01:00"`; got != want {
		t.Fatalf("utc of a string column = %s, want %s", got, want)
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

// TestSchemaAvroColumnsEvolve writes Avro records to a table created from
// the station's Avro schema, then, after the schema gains a field, the
// reopened sink adds its column with the schema's type before any record
// carries it.
func TestSchemaAvroColumnsEvolve(t *testing.T) {
	f := sffake.New(t)
	cfg := fakeConfig(f, map[string]any{"mode": "columns", "evolve_schema": true})
	snk := openSchemaSink(t, cfg, avroSchema(1, avroV1))
	if got, want := columnTypes(t, snk), "AT:TIMESTAMP_NTZ ID:NUMBER(38,0) NAME:VARCHAR"; got != want {
		t.Fatalf("columns:\n got %s\nwant %s", got, want)
	}
	at := base.UTC().Truncate(1e6)
	recs := avroRecords(t, avroV1, 0, map[string]any{"id": int64(1), "name": "apple", "at": at})
	recs = append(recs, connector.Record{Value: []byte{0x02, 0x01}, Offset: 1, Timestamp: base})
	err := snk.Write(context.Background(), recs)
	var be *connector.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || !errors.Is(be.Failed[1], schemacols.ErrValue) {
		t.Fatalf("Write = %v, want record 1 failed to decode", err)
	}
	if got, want := cells(t, f, `SELECT "ID", "NAME" FROM `+table), "1|apple"; got != want {
		t.Fatalf("table: %s, want %s", got, want)
	}
	if err := snk.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The schema changes; the host reopens the sink.
	snk = openSchemaSink(t, cfg, avroSchema(2, avroV2))
	if got, want := columnTypes(t, snk), "AT:TIMESTAMP_NTZ ID:NUMBER(38,0) NAME:VARCHAR SCORE:FLOAT"; got != want {
		t.Fatalf("columns after the schema change:\n got %s\nwant %s", got, want)
	}
	recs = avroRecords(t, avroV2, 2,
		map[string]any{"id": int64(2), "name": "pear", "at": at, "score": map[string]any{"double": 2.0}},
		map[string]any{"id": int64(3), "name": "fig", "at": at, "score": nil},
	)
	recs[0].Headers = []connector.Header{{Key: connector.HeaderSchema, Value: []byte("orders@2")}}
	// A record of the backlog, written with version 1, cannot be decoded
	// with version 2.
	old := avroRecords(t, avroV1, 4, map[string]any{"id": int64(4), "name": "kiwi", "at": at})[0]
	old.Headers = []connector.Header{{Key: connector.HeaderSchema, Value: []byte("orders@1")}}
	err = snk.Write(context.Background(), append(recs, old))
	if !errors.As(err, &be) || len(be.Failed) != 1 || !errors.Is(be.Failed[2], schemacols.ErrVersion) {
		t.Fatalf("Write = %v, want record 2 failed for its schema version", err)
	}
	if got, want := cells(t, f, `SELECT "ID", "NAME", "SCORE" FROM `+table+` ORDER BY "ID"`), "1|apple|NULL\n2|pear|2\n3|fig|NULL"; got != want {
		t.Fatalf("table:\n%s\nwant:\n%s", got, want)
	}

	// Without evolve_schema a later field gets no column.
	snk = openSchemaSink(t, fakeConfig(f, map[string]any{"mode": "columns"}), avroSchema(3, strings.Replace(avroV2, `{"name":"score"`, `{"name":"extra","type":"int"},{"name":"score"`, 1)))
	if got := columnTypes(t, snk); strings.Contains(got, "EXTRA") {
		t.Fatalf("columns without evolve_schema: %s", got)
	}
}

// TestSchemaProtobufColumns creates the table from the station's
// Protobuf message and writes Protobuf records to it typed.
func TestSchemaProtobufColumns(t *testing.T) {
	f := sffake.New(t)
	schema := &connector.Schema{Name: "orders", Version: 1, Type: "protobuf", Message: "shop.Order", Files: []connector.SchemaFile{{Name: "shop/order.proto", Content: []byte(`
		syntax = "proto3";
		package shop;
		enum Size { SMALL = 0; LARGE = 1; }
		message Order {
			int64 id = 1;
			string name = 2;
			double price = 3;
			bool ok = 4;
			Size size = 5;
			repeated string tags = 6;
		}`)}}}
	snk := openSchemaSink(t, fakeConfig(f, map[string]any{"mode": "columns"}), schema)
	if got, want := columnTypes(t, snk), "ID:NUMBER(38,0) NAME:VARCHAR OK:BOOLEAN PRICE:FLOAT SIZE:VARCHAR TAGS:VARIANT"; got != want {
		t.Fatalf("columns:\n got %s\nwant %s", got, want)
	}
	// id 1<<40 (field 1), name "apple" (2), price 1.5 (3), size LARGE (5), tags ["x"] (6).
	value := []byte{0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x12, 0x05, 'a', 'p', 'p', 'l', 'e', 0x19, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x28, 0x01, 0x32, 0x01, 'x'}
	write(t, snk, []connector.Record{{Value: value, Timestamp: base}})
	if got, want := cells(t, f, `SELECT "ID", "NAME", "PRICE", "OK", "SIZE", "TAGS" FROM `+table), `1099511627776|apple|1.5|0|LARGE|["x"]`; got != want {
		t.Fatalf("table: %s, want %s", got, want)
	}
}
