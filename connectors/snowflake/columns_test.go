package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/junctionhq/junction/connectors/snowflake/internal/sffake"
	"github.com/junctionhq/junction/sdk/connector"
)

func jsonRecords(partition uint32, first uint64, values ...string) []connector.Record {
	out := make([]connector.Record, len(values))
	for i, v := range values {
		out[i] = connector.Record{Value: []byte(v), Partition: partition, Offset: first + uint64(i), Timestamp: base}
	}
	return out
}

func cells(t *testing.T, f *sffake.Server, q string) string {
	t.Helper()
	rows, err := f.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range rows {
		var cs []string
		for _, c := range r {
			if c == nil {
				cs = append(cs, "NULL")
			} else {
				cs = append(cs, *c)
			}
		}
		lines = append(lines, strings.Join(cs, "|"))
	}
	return strings.Join(lines, "\n")
}

// TestColumnsAutoCreateAndEvolve creates the table from the first batch,
// adds a column for a new field with evolve_schema, and drops unknown
// fields without it.
func TestColumnsAutoCreateAndEvolve(t *testing.T) {
	f := sffake.New(t)
	cfg := fakeConfig(f, map[string]any{"mode": "columns", "evolve_schema": true})
	snk, _ := openSink(t, cfg, "orders", 1)
	write(t, snk, jsonRecords(0, 0,
		`{"id":1,"name":"apple","price":1.5,"ok":true,"tags":["x"]}`,
		`{"id":2,"name":"pear","price":2,"ok":false,"tags":{"a":1},"note":null}`,
	))
	if got, want := cells(t, f, `SELECT "ID", "NAME", "PRICE", "OK", "TAGS", "NOTE" FROM `+table+` ORDER BY "ID"`),
		"1|apple|1.5|1|[\"x\"]|NULL\n2|pear|2|0|{\"a\":1}|NULL"; got != want {
		t.Fatalf("table:\n%s\nwant:\n%s", got, want)
	}
	write(t, snk, jsonRecords(0, 2, `{"ID":3,"Name":"fig","color":"green"}`))
	if got, want := cells(t, f, `SELECT "ID", "NAME", "COLOR" FROM `+table+` WHERE "ID" = 3`), "3|fig|green"; got != want {
		t.Fatalf("after evolve: %s, want %s", got, want)
	}
	// Without evolve_schema, new fields are dropped.
	snk2, _ := openSink(t, fakeConfig(f, map[string]any{"mode": "columns"}), "orders", 1)
	write(t, snk2, jsonRecords(0, 3, `{"id":4,"size":"XL"}`))
	if got := cells(t, f, `SELECT "ID" FROM `+table+` WHERE "ID" = 4`); got != "4" {
		t.Fatalf("row 4: %q", got)
	}
	if _, err := f.Query(`SELECT "SIZE" FROM ` + table); err == nil {
		t.Fatal("column SIZE was added without evolve_schema")
	}
}

// TestColumnsBadRecords reports, per record and with Snowflake's reason,
// values that are not JSON objects or that a column cannot hold; the rest
// of the batch lands, once.
func TestColumnsBadRecords(t *testing.T) {
	f := sffake.New(t)
	f.Exec(t, `CREATE TABLE `+table+` ("QTY" NUMBER(38,0), "CODE" VARCHAR(3), "Name" VARCHAR)`)
	snk, _ := openSink(t, fakeConfig(f, map[string]any{"mode": "columns", "auto_create": false}), "orders", 1)
	recs := jsonRecords(0, 0,
		`{"qty":1,"code":"abc","NAME":"one"}`,
		`{"qty":"many","code":"abc"}`,
		`not json`,
		`{"qty":4,"code":"toolong"}`,
		`[1,2]`,
		`{"qty":"6","code":"x","name":"six"}`,
	)
	err := snk.Write(context.Background(), recs)
	var be *connector.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Write: %v, want a BatchError", err)
	}
	want := map[int]string{1: "Numeric value 'many' is not recognized", 2: "JSON object", 3: "100074", 4: "JSON object"}
	if len(be.Failed) != len(want) {
		t.Fatalf("failed records %v, want %v", be.Failed, want)
	}
	for i, w := range want {
		if be.Failed[i] == nil || !strings.Contains(be.Failed[i].Error(), w) {
			t.Errorf("record %d: %v, want it to say %q", i, be.Failed[i], w)
		}
	}
	if got, want := cells(t, f, `SELECT "QTY", "CODE", "Name" FROM `+table+` ORDER BY "QTY"`), "1|abc|one\n6|x|six"; got != want {
		t.Fatalf("table:\n%s\nwant:\n%s", got, want)
	}
	// The host moves on; a replay of the batch adds nothing.
	write(t, snk, recs)
	_, durable := openSink(t, fakeConfig(f, map[string]any{"mode": "columns"}), "orders", 1)
	if durable[0] != 6 {
		t.Fatalf("durable %v, want 6", durable)
	}
	if got := cells(t, f, `SELECT COUNT(*) FROM `+table); got != "2" {
		t.Fatalf("%s rows, want 2", got)
	}
}

// TestColumnsHostileFields creates columns from field names that try to
// break out of their quotes.
func TestColumnsHostileFields(t *testing.T) {
	f := sffake.New(t)
	f.Exec(t, `CREATE TABLE "JUNCTION_DB"."PUBLIC"."VICTIM" ("X" NUMBER(38,0))`)
	snk, _ := openSink(t, fakeConfig(f, map[string]any{"mode": "columns", "evolve_schema": true}), "orders", 1)
	hostile := `a"; DROP TABLE "VICTIM"; --`
	write(t, snk, jsonRecords(0, 0, fmt.Sprintf(`{"id":1,%q:"x","b:c::d":2}`, hostile)))
	if got := cells(t, f, `SELECT "ID", `+quoteIdent(hostile)+`, "b:c::d" FROM `+table); got != "1|x|2" {
		t.Fatalf("row: %q", got)
	}
	if _, err := f.Query(`SELECT COUNT(*) FROM "JUNCTION_DB"."PUBLIC"."VICTIM"`); err != nil {
		t.Fatalf("the VICTIM table is gone: %v", err)
	}
}

// TestColumnsFirstBatchUnusable: with auto_create, a first batch with
// nothing to make the table from fails its records, not the connector;
// the next batch creates the table.
func TestColumnsFirstBatchUnusable(t *testing.T) {
	f := sffake.New(t)
	snk, _ := openSink(t, fakeConfig(f, map[string]any{"mode": "columns"}), "orders", 1)
	err := snk.Write(context.Background(), jsonRecords(0, 0, `nope`, `{}`))
	var be *connector.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 2 {
		t.Fatalf("Write: %v, want both records failed", err)
	}
	write(t, snk, jsonRecords(0, 2, `{"a":1}`))
	if got := cells(t, f, `SELECT "A" FROM `+table); got != "1" {
		t.Fatalf("table: %q", got)
	}
}
