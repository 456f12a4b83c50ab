package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	sf "github.com/snowflakedb/gosnowflake"

	"github.com/junctionhq/junction/connectors/snowflake/internal/sffake"
	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/connectortest"
)

// driverDB is a gosnowflake connection to the fake, for feeding tables.
func driverDB(t testing.TB, f *sffake.Server) *sql.DB {
	t.Helper()
	db := sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, sf.Config{
		Account: sffake.Account, User: sffake.User, Password: sffake.Password, Host: f.Host, Port: f.Port, Protocol: "http",
		Database: sffake.Database, Schema: sffake.Schema, Warehouse: sffake.Warehouse, MaxRetryCount: 1, DisableTelemetry: true,
	}))
	t.Cleanup(func() { db.Close() })
	return db
}

func sourceConfig(f *sffake.Server, extra map[string]any) map[string]any {
	cfg := fakeConfig(f, map[string]any{
		"table": "ITEMS", "ordering_column": "ID", "poll_interval": "20ms",
		"auto_create": nil,
	})
	for k, v := range extra {
		if v == nil {
			delete(cfg, k)
			continue
		}
		cfg[k] = v
	}
	return cfg
}

func TestSourceConformance(t *testing.T) {
	connectortest.RunSource(t, definition(), func(t *testing.T) connectortest.SourceHarness {
		f := sffake.New(t)
		f.Exec(t, `CREATE TABLE "JUNCTION_DB"."PUBLIC"."ITEMS" ("ID" NUMBER(38,0), "V" BINARY)`)
		db := driverDB(t, f)
		var mu sync.Mutex
		next := int64(1)
		return connectortest.SourceHarness{
			Config: sourceConfig(f, map[string]any{"value_column": "V"}),
			Produce: func(recs []connector.Record) error {
				mu.Lock()
				defer mu.Unlock()
				for _, r := range recs {
					if _, err := db.Exec(`INSERT INTO "JUNCTION_DB"."PUBLIC"."ITEMS" ("ID", "V") VALUES (?, ?)`, next, sf.DataTypeBinary, r.Value); err != nil {
						return err
					}
					next++
				}
				return nil
			},
		}
	})
}

func openSource(t testing.TB, cfg map[string]any, pos connector.Position) *source {
	t.Helper()
	c, err := definition().Source.Decode(cfg)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	src, err := newSource(c.(SourceConfig))
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Open(context.Background(), pos); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = src.Teardown(context.Background()) })
	return src.(*source)
}

// readAll reads batches until n records arrived.
func readAll(t testing.TB, src connector.Source, n int) ([]connector.Record, []connector.Batch) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var recs []connector.Record
	var batches []connector.Batch
	for len(recs) < n {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("Read after %d of %d: %v", len(recs), n, err)
		}
		recs = append(recs, b.Records...)
		batches = append(batches, b)
	}
	return recs, batches
}

func expectIdle(t testing.TB, src connector.Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	b, err := src.Read(ctx)
	if err == nil {
		t.Fatalf("Read returned %d more records, want none", len(b.Records))
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("idle Read: %v, want a deadline error", err)
	}
}

func fillItems(t testing.TB, f *sffake.Server, from, n int, ts func(i int) time.Time) {
	t.Helper()
	var docs []string
	for i := from; i < from+n; i++ {
		docs = append(docs, fmt.Sprintf(`{"id":%d,"name":"item %d","ts":%q,"doc":{"i":%d},"ok":%v,"amount":%d.5}`, i, i, ts(i).UTC().Format(time.RFC3339Nano), i, i%2 == 0, i))
	}
	f.ExecArgs(t, `INSERT INTO "JUNCTION_DB"."PUBLIC"."ITEMS" ("ID", "NAME", "TS", "DOC", "OK", "AMOUNT") `+
		`SELECT value:id::NUMBER(38,0), value:name::VARCHAR, value:ts::TIMESTAMP_NTZ, value:doc, value:ok::BOOLEAN, value:amount::FLOAT `+
		`FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))`, "["+strings.Join(docs, ",")+"]")
}

func createItems(t testing.TB, f *sffake.Server) {
	f.Exec(t, `CREATE TABLE "JUNCTION_DB"."PUBLIC"."ITEMS" ("ID" NUMBER(38,0), "NAME" VARCHAR, "TS" TIMESTAMP_NTZ, "DOC" VARIANT, "OK" BOOLEAN, "AMOUNT" FLOAT)`)
}

// TestSourceIncremental reads rows as JSON objects in pages, with keys and
// ids from the ordering value, and restarts mid-way from a position with
// nothing twice and nothing skipped.
func TestSourceIncremental(t *testing.T) {
	f := sffake.New(t)
	createItems(t, f)
	fillItems(t, f, 1, 10, func(int) time.Time { return base })
	cfg := sourceConfig(f, map[string]any{"page_size": 3, "key_column": "name"})
	src := openSource(t, cfg, nil)
	recs, batches := readAll(t, src, 10)
	if len(batches) != 4 || len(batches[0].Records) != 3 {
		t.Fatalf("%d batches (first of %d), want pages of 3", len(batches), len(batches[0].Records))
	}
	var first map[string]any
	if err := json.Unmarshal(recs[0].Value, &first); err != nil {
		t.Fatalf("value %s: %v", recs[0].Value, err)
	}
	want := `{"ID":1,"NAME":"item 1","TS":"2026-11-25T13:04:05Z","DOC":{"i":1},"OK":false,"AMOUNT":1.5}`
	if string(recs[0].Value) != want {
		t.Fatalf("value:\n%s\nwant\n%s", recs[0].Value, want)
	}
	if string(recs[0].Key) != "item 1" || recs[0].ID != `"JUNCTION_DB"."PUBLIC"."ITEMS":[{"t":"int","v":"1"}]` {
		t.Fatalf("key %q id %q", recs[0].Key, recs[0].ID)
	}
	expectIdle(t, src)

	// Restart from the second batch's position, with more rows added.
	fillItems(t, f, 11, 5, func(int) time.Time { return base })
	_ = src.Teardown(context.Background())
	src = openSource(t, cfg, batches[1].Position)
	rest, _ := readAll(t, src, 9)
	for i, r := range rest {
		var row struct{ ID int }
		if err := json.Unmarshal(r.Value, &row); err != nil || row.ID != 7+i {
			t.Fatalf("after restart, record %d: %s (%v), want ID %d", i, r.Value, err, 7+i)
		}
	}
	expectIdle(t, src)
}

// TestSourceTimestampOrdering orders by a timestamp and an id tie-breaker,
// and skips rows younger than ordering_delay until they are old enough.
func TestSourceTimestampOrdering(t *testing.T) {
	f := sffake.New(t)
	createItems(t, f)
	now := time.Now().UTC().Truncate(time.Millisecond)
	// Ids 1..6 share timestamps in pairs; 7 is recent.
	fillItems(t, f, 1, 6, func(i int) time.Time { return now.Add(-time.Hour + time.Duration((i-1)/2)*time.Minute) })
	fillItems(t, f, 7, 1, func(int) time.Time { return now })
	src := openSource(t, sourceConfig(f, map[string]any{"ordering_column": []any{"ts", "id"}, "page_size": 3, "ordering_delay": "10m"}), nil)
	recs, batches := readAll(t, src, 6)
	for i, r := range recs {
		var row struct{ ID int }
		_ = json.Unmarshal(r.Value, &row)
		if row.ID != i+1 {
			t.Fatalf("record %d is id %d", i, row.ID)
		}
	}
	expectIdle(t, src) // id 7 is younger than the delay
	// A row committed late with an older timestamp than the position but
	// a higher tie-breaker within the same timestamp is still read.
	_ = src.Teardown(context.Background())
	src = openSource(t, sourceConfig(f, map[string]any{"ordering_column": []any{"ts", "id"}, "page_size": 3}), batches[0].Position)
	rest, _ := readAll(t, src, 4)
	var ids []int
	for _, r := range rest {
		var row struct{ ID int }
		_ = json.Unmarshal(r.Value, &row)
		ids = append(ids, row.ID)
	}
	if fmt.Sprint(ids) != "[4 5 6 7]" {
		t.Fatalf("after the first page without the delay: ids %v", ids)
	}
}

// TestSourceQuery reads a custom query, with the position bound, never
// spliced.
func TestSourceQuery(t *testing.T) {
	f := sffake.New(t)
	createItems(t, f)
	fillItems(t, f, 1, 6, func(int) time.Time { return base })
	q := `SELECT "ID", "NAME" FROM "JUNCTION_DB"."PUBLIC"."ITEMS" WHERE "OK" = TRUE`
	src := openSource(t, sourceConfig(f, map[string]any{"table": nil, "query": q, "page_size": 2}), nil)
	recs, _ := readAll(t, src, 3)
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Value))
	}
	if want := `{"ID":2,"NAME":"item 2"} {"ID":4,"NAME":"item 4"} {"ID":6,"NAME":"item 6"}`; strings.Join(got, " ") != want {
		t.Fatalf("got %s, want %s", strings.Join(got, " "), want)
	}
	expectIdle(t, src)
	for _, s := range f.Statements() {
		if strings.Contains(s, "JUNCTION_Q") && !strings.Contains(s, `"ID" > ?`) && strings.Contains(s, "WHERE (") {
			t.Fatalf("position not bound: %s", s)
		}
	}
}

func TestSourceConfigErrors(t *testing.T) {
	f := sffake.New(t)
	for _, tc := range []struct {
		extra map[string]any
		field string
	}{
		{map[string]any{"table": nil}, "table"},
		{map[string]any{"query": "SELECT 1"}, "query"},
		{map[string]any{"table": nil, "query": "DELETE FROM x"}, "query"},
		{map[string]any{"table": nil, "query": "SELECT 1; DROP TABLE x"}, "query"},
		{map[string]any{"table": nil, "query": `SELECT * FROM t WHERE id > ?`}, "query"},
		{map[string]any{"page_size": 0}, "page_size"},
		{map[string]any{"ordering_column": nil}, "ordering_column"},
	} {
		_, err := definition().Source.Decode(sourceConfig(f, tc.extra))
		var fes connector.FieldErrors
		if !errors.As(err, &fes) || !named(fes, tc.field) {
			t.Errorf("config %v: %v, want a field error naming %s", tc.extra, err, tc.field)
		}
	}
	// A missing ordering column is fatal at the first read, named.
	createItems(t, f)
	fillItems(t, f, 1, 1, func(int) time.Time { return base })
	src := openSource(t, sourceConfig(f, map[string]any{"ordering_column": "nope"}), nil)
	_, err := src.Read(context.Background())
	if !errors.Is(err, connector.ErrFatal) || !strings.Contains(err.Error(), "NOPE") {
		t.Fatalf("Read with a missing ordering column: %v", err)
	}
}

func FuzzParsePosition(f *testing.F) {
	f.Add([]byte(`[{"t":"int","v":"42"}]`), 1)
	f.Add([]byte(`[{"t":"time","v":"2026-11-25T13:04:05.123Z"},{"t":"text","v":"a"}]`), 2)
	f.Add([]byte(`[{"t":"float","v":"1e9"}]`), 1)
	f.Add([]byte(`{}`), 0)
	f.Fuzz(func(t *testing.T, pos []byte, n int) {
		vals, err := parsePosition(pos, n)
		if err != nil {
			return
		}
		if len(vals) != n {
			t.Fatalf("%d values, want %d", len(vals), n)
		}
		again, _ := json.Marshal(vals)
		if _, err := parsePosition(again, n); err != nil {
			t.Fatalf("re-encoded position %s: %v", again, err)
		}
	})
}
