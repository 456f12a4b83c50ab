package main

import (
	"encoding/json"
	"testing"

	"cloud.google.com/go/bigquery"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/junctionhq/junction/sdk/connector"
)

// FuzzColumnsRow encodes arbitrary record values in columns mode: no
// panic, and every row it produces decodes with the writer schema it
// sends, as BigQuery would decode it.
func FuzzColumnsRow(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"name":"a","price":2.5,"ok":true,"at":"2025-03-01T12:00:00Z","day":"2025-03-01","raw":"AAE=","doc":{"x":[1,2]}}`,
		`{"id":"12","price":"1e3","ok":"false"}`,
		`{"id":1.5}`, `{"new_field":1}`, `[1,2]`, `{"a":1}{"b":2}`, `null`, `{}`, `{"id":null}`,
	} {
		f.Add([]byte(s))
	}
	schema := append(metaSchema(), bigquery.Schema{
		{Name: "id", Type: bigquery.IntegerFieldType}, {Name: "name", Type: bigquery.StringFieldType},
		{Name: "price", Type: bigquery.FloatFieldType}, {Name: "ok", Type: bigquery.BooleanFieldType},
		{Name: "at", Type: bigquery.TimestampFieldType}, {Name: "day", Type: bigquery.DateFieldType},
		{Name: "raw", Type: bigquery.BytesFieldType}, {Name: "doc", Type: bigquery.JSONFieldType},
	}...)
	codec, err := newRowCodec("columns", "st", schema)
	if err != nil {
		f.Fatal(err)
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("row.proto"), Syntax: proto.String("proto2"), MessageType: []*descriptorpb.DescriptorProto{codec.desc},
	}, nil)
	if err != nil {
		f.Fatal(err)
	}
	mt := dynamicpb.NewMessageType(fd.Messages().Get(0))
	f.Fuzz(func(t *testing.T, value []byte) {
		row, missing, err := codec.encode(nil, connector.Record{Value: value, Partition: 1, Offset: 2})
		if err != nil || len(missing) > 0 {
			if len(row) != 0 {
				t.Fatalf("a failed encode returned a row")
			}
			return
		}
		m := mt.New()
		if err := proto.Unmarshal(row, m.Interface()); err != nil {
			t.Fatalf("row of %q does not decode: %v", value, err)
		}
		if err := proto.CheckInitialized(m.Interface()); err != nil {
			t.Fatalf("row of %q lacks a required column: %v", value, err)
		}
	})
}

// FuzzPosition parses arbitrary checkpoints: no panic, and what parses
// encodes back to itself.
func FuzzPosition(f *testing.F) {
	for _, s := range []string{`{"v":"5"}`, `{"v":"2025-03-01T12:00:00Z"}`, `{}`, ``, `{"v":null}`, `{"x":1}`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePosition(b)
		if err != nil {
			return
		}
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := decodePosition(again)
		if err != nil || (p.Value == nil) != (q.Value == nil) || p.Value != nil && *p.Value != *q.Value {
			t.Fatalf("%q -> %s -> %v %v", b, again, q, err)
		}
	})
}
