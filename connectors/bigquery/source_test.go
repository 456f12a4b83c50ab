package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	bq "google.golang.org/api/bigquery/v2"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/connectortest"
)

func TestSourceConformance(t *testing.T) {
	connectortest.RunSource(t, definition(), func(t *testing.T) connectortest.SourceHarness {
		f := newFakeBQ(t)
		f.createTable("ds", "events", &bq.TableSchema{Fields: []*bq.TableFieldSchema{
			{Name: "id", Type: "INTEGER", Mode: "REQUIRED"}, {Name: "payload", Type: "BYTES"},
		}}, nil)
		f.set(func(f *fakeBQ) { f.pageCap = 3 })
		var next int64
		return connectortest.SourceHarness{
			Config: f.config(map[string]any{"ordering_column": "id", "value_column": "payload", "page_size": 7, "poll_interval": "10ms"}),
			Produce: func(recs []connector.Record) error {
				for _, r := range recs {
					next++
					f.insert("ds", "events", map[string]any{"id": next, "payload": r.Value})
				}
				return nil
			},
		}
	}, connectortest.IgnoreGoroutines(reconnectGoroutine))
}

func readAll(t *testing.T, src connector.Source, n int) ([]connector.Record, []connector.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []connector.Record
	var positions []connector.Position
	for len(got) < n {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("Read after %d of %d: %v", len(got), n, err)
		}
		got = append(got, b.Records...)
		positions = append(positions, b.Position)
	}
	return got, positions
}

// TestSourceRowsAsJSON reads a table with rows sharing ordering values
// across page boundaries, each row once, as a JSON object.
func TestSourceRowsAsJSON(t *testing.T) {
	f := newFakeBQ(t)
	f.createTable("ds", "events", &bq.TableSchema{Fields: []*bq.TableFieldSchema{
		{Name: "ts", Type: "TIMESTAMP", Mode: "REQUIRED"}, {Name: "name", Type: "STRING"}, {Name: "n", Type: "INTEGER"},
	}}, &bq.TimePartitioning{Type: "DAY"})
	at := func(sec int) int64 { return base.Add(time.Duration(sec) * time.Second).UnixMicro() }
	// Three rows share each timestamp; pages of 2 must not split them.
	for i := range 12 {
		f.insert("ds", "events", map[string]any{"ts": at(i / 3), "name": "row", "n": int64(i)})
	}
	f.set(func(f *fakeBQ) { f.pageCap = 5 })
	cfg := f.config(map[string]any{"ordering_column": "ts", "page_size": 2, "poll_interval": "10ms",
		"maximum_bytes_billed": "1GiB", "partition_lookback": "48h"})
	src := openSource(t, cfg, nil)
	got, positions := readAll(t, src, 12)
	if len(got) != 12 {
		t.Fatalf("read %d rows, want 12", len(got))
	}
	var first map[string]any
	if err := json.Unmarshal(got[0].Value, &first); err != nil || first["ts"] != "2025-03-01T12:00:00Z" || first["name"] != "row" || first["n"] != float64(0) {
		t.Fatalf("first record %s (%v)", got[0].Value, err)
	}
	if len(positions) != 4 {
		t.Errorf("%d batches, want 4 (ties kept together in pages of 2)", len(positions))
	}
	// Restart from the second batch's position: the rest, nothing twice.
	again := openSource(t, cfg, positions[1])
	rest, _ := readAll(t, again, 6)
	if len(rest) != 6 || string(rest[0].Key) != "2025-03-01T12:00:02Z" {
		t.Fatalf("after a restart: %d rows from %s", len(rest), rest[0].Key)
	}
	f.mu.Lock()
	pages := f.pages
	f.mu.Unlock()
	if pages == 0 {
		t.Error("the results were not paged")
	}
	q := f.queryLog()
	if q[0].MaxBytesBilled != 1<<30 {
		t.Errorf("maximum bytes billed sent = %d", q[0].MaxBytesBilled)
	}
	if !strings.Contains(q[0].SQL, "_PARTITIONTIME >= TIMESTAMP_SUB(") {
		t.Errorf("no partition filter in %s", q[0].SQL)
	}
	last := q[len(q)-1]
	if last.Params["position"] == nil || strings.Contains(last.SQL, "2025") {
		t.Errorf("the position must be a parameter, not in the SQL: %+v", last)
	}
}

// TestSourceCustomQuery reads through a user's query with @position.
func TestSourceCustomQuery(t *testing.T) {
	f := newFakeBQ(t)
	f.createTable("ds", "events", &bq.TableSchema{Fields: []*bq.TableFieldSchema{
		{Name: "id", Type: "INTEGER", Mode: "REQUIRED"}, {Name: "name", Type: "STRING"},
	}}, nil)
	for i := range 5 {
		f.insert("ds", "events", map[string]any{"id": int64(i + 1), "name": "n"})
	}
	query := "SELECT * FROM `" + testProject + ".ds.events` WHERE (@position IS NULL OR id > @position) ORDER BY id"
	cfg := f.config(map[string]any{"ordering_column": "id", "query": query, "poll_interval": "10ms"})
	src := openSource(t, cfg, nil)
	got, positions := readAll(t, src, 5)
	if string(got[4].Value) != `{"id":5,"name":"n"}` {
		t.Fatalf("last record %s", got[4].Value)
	}
	f.insert("ds", "events", map[string]any{"id": int64(6), "name": "late"})
	more, _ := readAll(t, src, 1)
	if string(more[0].Value) != `{"id":6,"name":"late"}` {
		t.Fatalf("polled record %s", more[0].Value)
	}
	if q := f.queryLog(); q[len(q)-1].SQL != query || q[len(q)-1].Params["position"] != "5" {
		t.Errorf("last query %+v", q[len(q)-1])
	}
	if string(positions[0]) != `{"v":"5"}` {
		t.Errorf("position %s", positions[0])
	}
}

func TestSourceBadConfig(t *testing.T) {
	_, err := definition().Source.Decode(map[string]any{"project": "p-1", "dataset": "d", "table": "t", "ordering_column": "id", "query": "SELECT 1"})
	if !errors.Is(err, connector.ErrConfig) || !strings.Contains(err.Error(), "query: must use the @position parameter") {
		t.Errorf("a query without @position: %v", err)
	}
	_, err = definition().Source.Decode(map[string]any{"project": "p-1", "dataset": "d", "table": "t", "ordering_column": "id; DROP"})
	if !errors.Is(err, connector.ErrConfig) || !strings.Contains(err.Error(), "ordering_column") {
		t.Errorf("a bad ordering column: %v", err)
	}
}
