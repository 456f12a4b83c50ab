package main

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/parquet-go/parquet-go"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/junctionhq/junction/sdk/connector"
)

func openTypedSink(t *testing.T, f *fakeS3, schema *connector.Schema) *sink {
	t.Helper()
	c, err := definition().Sink.Decode(f.config(map[string]any{"format": "parquet", "compression": "zstd"}))
	if err != nil {
		t.Fatal(err)
	}
	snk, err := newSink(c.(SinkConfig))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snk.Open(context.Background(), connector.SinkInfo{Station: "st", Partitions: 1, Schema: schema}); err != nil {
		t.Fatal(err)
	}
	return snk.(*sink)
}

type typedRow struct {
	Offset uint64 `parquet:"offset"`
	Value  []byte `parquet:"value"`
	Fields struct {
		ID    *string  `parquet:"id,optional"`
		OK    *bool    `parquet:"ok,optional"`
		Price *float64 `parquet:"price,optional"`
		Qty   *int64   `parquet:"qty,optional"`
	} `parquet:"fields"`
}

func writeAndReadTyped(t *testing.T, f *fakeS3, snk *sink, values [][]byte) []typedRow {
	t.Helper()
	recs := make([]connector.Record, len(values))
	for i, v := range values {
		recs[i] = connector.Record{Offset: uint64(i), Value: v, Timestamp: base}
	}
	if err := snk.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if err := snk.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := f.keys(t, "")
	if len(keys) != 1 {
		t.Fatalf("keys %v", keys)
	}
	body := f.get(t, keys[0])
	rows, err := parquet.Read[typedRow](bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	// The S3 source (and anything reading the plain columns) still gets
	// every record back.
	back, err := f.readBack(t, "")
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, back, recs)
	return rows
}

func TestSinkParquetTypedColumnsFromJSONSchema(t *testing.T) {
	f := newFakeS3(t)
	schema := &connector.Schema{Name: "order", Version: 1, Type: "json", Files: []connector.SchemaFile{{Name: "o.json", Content: []byte(`{
		"type": "object",
		"properties": {
			"id": {"type": "string"}, "qty": {"type": "integer"}, "price": {"type": ["number", "null"]},
			"ok": {"type": "boolean"}, "items": {"type": "array"}, "bad,name": {"type": "string"}
		}}`)}}}
	snk := openTypedSink(t, f, schema)
	if snk.typed == nil || len(snk.typed.fields) != 4 {
		t.Fatalf("typed columns %+v", snk.typed)
	}
	rows := writeAndReadTyped(t, f, snk, [][]byte{
		[]byte(`{"id":"a","qty":2,"price":9.5,"ok":true,"items":[1]}`),
		[]byte(`{"id":"b","qty":"many","price":null}`),
		[]byte(`not json`),
	})
	r := rows[0].Fields
	if r.ID == nil || *r.ID != "a" || r.Qty == nil || *r.Qty != 2 || r.Price == nil || *r.Price != 9.5 || r.OK == nil || !*r.OK {
		t.Fatalf("row 0: %+v", r)
	}
	if r := rows[1].Fields; r.ID == nil || *r.ID != "b" || r.Qty != nil || r.Price != nil || r.OK != nil {
		t.Fatalf("row 1: %+v", r)
	}
	if r := rows[2].Fields; r.ID != nil || r.Qty != nil || string(rows[2].Value) != "not json" {
		t.Fatalf("row 2: %+v", rows[2])
	}
}

func TestSinkParquetTypedColumnsFromAvro(t *testing.T) {
	f := newFakeS3(t)
	text := `{"type":"record","name":"Order","fields":[
		{"name":"id","type":"string"},{"name":"qty","type":"int"},{"name":"price","type":["null","double"]},
		{"name":"ok","type":"boolean"},{"name":"tags","type":{"type":"array","items":"string"}}]}`
	snk := openTypedSink(t, f, &connector.Schema{Name: "order", Version: 3, Type: "avro", Files: []connector.SchemaFile{{Name: "o.avsc", Content: []byte(text)}}})
	sch := avro.MustParse(text)
	price := 4.25
	v1, err := avro.Marshal(sch, map[string]any{"id": "a", "qty": 7, "price": &price, "ok": true, "tags": []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := avro.Marshal(sch, map[string]any{"id": "b", "qty": 1, "price": nil, "ok": false, "tags": []string{}})
	if err != nil {
		t.Fatal(err)
	}
	rows := writeAndReadTyped(t, f, snk, [][]byte{v1, v2, {0xff}})
	if r := rows[0].Fields; r.ID == nil || *r.ID != "a" || r.Qty == nil || *r.Qty != 7 || r.Price == nil || *r.Price != 4.25 || r.OK == nil || !*r.OK {
		t.Fatalf("row 0: %+v", r)
	}
	if r := rows[1].Fields; r.ID == nil || *r.ID != "b" || r.Price != nil || r.OK == nil || *r.OK {
		t.Fatalf("row 1: %+v", r)
	}
	if r := rows[2].Fields; r.ID != nil {
		t.Fatalf("row 2: %+v", r)
	}
}

func TestSinkParquetWithoutTypedSchema(t *testing.T) {
	for _, s := range []*connector.Schema{
		nil,
		{Name: "g", Type: "graphql", Files: []connector.SchemaFile{{Name: "s.graphql", Content: []byte("type Query { a: Int }")}}},
		{Name: "j", Type: "json", Files: []connector.SchemaFile{{Name: "s.json", Content: []byte(`{"type":"array"}`)}}},
	} {
		if typed, err := newTypedColumns(s); err != nil || typed != nil {
			t.Errorf("%+v: %+v %v", s, typed, err)
		}
	}
	if _, err := newTypedColumns(&connector.Schema{Name: "a", Type: "avro", Files: []connector.SchemaFile{{Name: "a.avsc", Content: []byte(`{"type":`)}}}); err == nil {
		t.Error("a broken avro schema was accepted")
	}
}

// FuzzTypedColumns feeds arbitrary schemas and record values to the typed
// Parquet columns: a schema either yields columns or not, and any value
// encodes (with null typed columns when it does not decode).
func FuzzTypedColumns(f *testing.F) {
	f.Add("json", []byte(`{"properties":{"a":{"type":"integer"},"b":{"type":["string","null"]}}}`), []byte(`{"a":1,"b":"x"}`))
	f.Add("avro", []byte(`{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":["null","bytes"]}]}`), []byte{0x02, 0x02, 0x02, 0x41})
	f.Fuzz(func(t *testing.T, typ string, schemaText, value []byte) {
		tc, err := newTypedColumns(&connector.Schema{Name: "s", Version: 1, Type: typ, Files: []connector.SchemaFile{{Name: "s", Content: schemaText}}})
		if err != nil || tc == nil {
			return
		}
		row := toRow(connector.Record{Value: value})
		body, err := tc.encode([]parquetRow{row}, [][]any{tc.decode(value)}, parquetCodec("none"))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := parquet.Read[parquetRow](bytes.NewReader(body), int64(len(body)))
		if err != nil || len(rows) != 1 || !bytes.Equal(rows[0].Value, row.Value) {
			t.Fatalf("read back: %v %+v", err, rows)
		}
	})
}

func TestSinkParquetTypedColumnsFromProtobuf(t *testing.T) {
	f := newFakeS3(t)
	files := []connector.SchemaFile{
		{Name: "shop/order.proto", Content: []byte(`syntax = "proto3"; package shop; import "shop/item.proto";
			message Order { string id = 1; int64 qty = 2; double price = 3; bool ok = 4; Status status = 5; repeated string tags = 6; Item item = 7; }
			enum Status { NEW = 0; PAID = 1; }`)},
		{Name: "shop/item.proto", Content: []byte(`syntax = "proto3"; package shop; message Item { string sku = 1; }`)},
	}
	snk := openTypedSink(t, f, &connector.Schema{Name: "order", Version: 1, Type: "protobuf", Message: "shop.Order", Files: files})
	if snk.typed == nil || len(snk.typed.fields) != 5 {
		t.Fatalf("typed columns %+v", snk.typed)
	}
	v := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "a")
	v = protowire.AppendVarint(protowire.AppendTag(v, 2, protowire.VarintType), 7)
	v = protowire.AppendFixed64(protowire.AppendTag(v, 3, protowire.Fixed64Type), math.Float64bits(2.5))
	v = protowire.AppendVarint(protowire.AppendTag(v, 5, protowire.VarintType), 1)
	rows := writeAndReadTyped(t, f, snk, [][]byte{v, {0xff}})
	if r := rows[0].Fields; r.ID == nil || *r.ID != "a" || r.Qty == nil || *r.Qty != 7 || r.Price == nil || *r.Price != 2.5 || r.OK == nil || *r.OK {
		t.Fatalf("row 0: %+v", r)
	}
	if r := rows[1].Fields; r.ID != nil {
		t.Fatalf("row 1: %+v", r)
	}
	if _, err := newTypedColumns(&connector.Schema{Name: "o", Type: "protobuf", Message: "shop.Nope", Files: files}); err == nil {
		t.Error("a missing message was accepted")
	}
}
