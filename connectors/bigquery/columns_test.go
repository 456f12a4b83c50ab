package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/junctionhq/junction/sdk/connector"
)

func jsonRecord(p uint32, off uint64, v string) connector.Record {
	return connector.Record{Partition: p, Offset: off, Value: []byte(v), Timestamp: base}
}

// TestColumnsEvolveSchema creates a table in columns mode, adds columns
// as records bring new fields, and stays exactly once across a restart.
func TestColumnsEvolveSchema(t *testing.T) {
	f := newFakeBQ(t)
	cfg := f.config(map[string]any{"mode": "columns", "evolve_schema": true, "partitioning": map[string]any{"column": "_junction_timestamp"}})
	snk, _ := openSink(t, cfg, "to-bq", 1)
	write(t, snk, []connector.Record{
		jsonRecord(0, 0, `{"id":1,"name":"a"}`),
		jsonRecord(0, 1, `{"id":2,"name":"b","price":2.5}`),
	})
	tb := f.table("ds", "events")
	var cols []string
	for _, c := range tb.Schema.Fields {
		cols = append(cols, c.Name+":"+c.Type+":"+c.Mode)
	}
	want := "_junction_station:STRING:REQUIRED _junction_partition:INTEGER:REQUIRED _junction_offset:INTEGER:REQUIRED _junction_timestamp:TIMESTAMP: id:INTEGER: name:STRING: price:FLOAT:"
	if got := strings.Join(cols, " "); got != want {
		t.Fatalf("columns = %s\nwant      %s", got, want)
	}
	if tb.TimePartitioning == nil || tb.TimePartitioning.Field != "_junction_timestamp" {
		t.Errorf("partitioning = %+v, want by _junction_timestamp", tb.TimePartitioning)
	}
	// A later field, and one that does not fit its column.
	err := snk.Write(context.Background(), []connector.Record{
		jsonRecord(0, 2, `{"id":3,"tags":["x"],"ok":true}`),
		jsonRecord(0, 3, `{"id":"four"}`),
		jsonRecord(0, 4, `not json`),
		jsonRecord(0, 5, `{"id":6,"name":null}`),
	})
	var be *connector.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 2 || !strings.Contains(be.Failed[1].Error(), `"four" does not fit column id of type INTEGER`) ||
		!errors.Is(be.Failed[2], errNotObject) {
		t.Fatalf("Write = %v, want records 1 (type) and 2 (not an object) failed", err)
	}
	rows := f.rows("ds", "events")
	if len(rows) != 4 || rows[2]["tags"] != `["x"]` || rows[2]["ok"] != true || rows[1]["price"] != 2.5 || rows[3]["id"] != int64(6) {
		t.Fatalf("rows = %v", rows)
	}
	// A crash and a replay.
	again, durable := openSink(t, cfg, "to-bq", 1)
	if durable[0] != 6 {
		t.Fatalf("durable = %v, want 6", durable)
	}
	write(t, again, []connector.Record{jsonRecord(0, 6, `{"id":7}`)})
	if err := again.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.rows("ds", "events")); n != 5 {
		t.Fatalf("%d rows after the replay, want 5", n)
	}
}

// TestColumnsWithoutEvolve sends records with fields the table lacks to
// the dead-letter station.
func TestColumnsWithoutEvolve(t *testing.T) {
	f := newFakeBQ(t)
	cfg := f.config(map[string]any{"mode": "columns", "delivery": "at_least_once"})
	snk, durable := openSink(t, cfg, "to-bq", 1)
	defer snk.Teardown(context.Background())
	if durable != nil {
		t.Errorf("at_least_once reported durable offsets %v", durable)
	}
	err := snk.Write(context.Background(), []connector.Record{jsonRecord(0, 0, `{"id":1}`), jsonRecord(0, 1, `{}`)})
	var be *connector.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || !strings.Contains(be.Failed[0].Error(), `field "id" is not a column of table events (evolve_schema: true adds it)`) {
		t.Fatalf("Write = %v", err)
	}
	if rows := f.rows("ds", "events"); len(rows) != 1 || rows[0][metaOffset] != int64(1) {
		t.Fatalf("rows = %v", rows)
	}
}
