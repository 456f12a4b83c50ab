package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/connectortest"
)

func TestSinkConformance(t *testing.T) {
	for _, delivery := range []string{"exactly_once", "at_least_once"} {
		t.Run(delivery, func(t *testing.T) {
			connectortest.RunSink(t, definition(), func(t *testing.T) connectortest.SinkHarness {
				f := newFakeBQ(t)
				return connectortest.SinkHarness{
					Config:   f.config(map[string]any{"delivery": delivery}),
					ReadBack: func() ([]connector.Record, error) { return jsonRecords(f.rows("ds", "events")), nil },
				}
			}, connectortest.IgnoreGoroutines(reconnectGoroutine))
		})
	}
}

// reconnectGoroutine is the managedwriter goroutine that cancels a
// connection's old context 20 seconds after it is replaced, even when the
// client is closed.
const reconnectGoroutine = "cloud.google.com/go/bigquery/storage/managedwriter.(*connection).getStream.func1"

func TestSpecGolden(t *testing.T) { connectortest.SpecGolden(t, definition()) }

// TestSinkJSONRoundTrip writes records of every value kind and reads the
// rows back as BigQuery holds them: decoded with the writer schema.
func TestSinkJSONRoundTrip(t *testing.T) {
	f := newFakeBQ(t)
	snk, durable := openSink(t, f.config(nil), "to-bq", 2)
	if durable[0] != 0 || durable[1] != 0 {
		t.Fatalf("durable on an empty table = %v", durable)
	}
	recs := records(30, 2, 0)
	write(t, snk, recs)
	if err := snk.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := jsonRecords(f.rows("ds", "events"))
	wantExactly(t, got, recs)
	for i, r := range got {
		w := recs[int(r.Offset)*2+int(r.Partition)]
		if !bytes.Equal(r.Value, w.Value) || !bytes.Equal(r.Key, w.Key) || !r.Timestamp.Equal(w.Timestamp) || len(r.Headers) != 1 {
			t.Fatalf("row %d = %+v, want %+v", i, r, w)
		}
	}
	for _, row := range f.rows("ds", "events") {
		if row[colPartition] == int64(0) && row[colOffset] == int64(0) && row[colValue] != `{"n":0}` {
			t.Errorf("a JSON value is stored as %v, want the JSON itself", row[colValue])
		}
	}
	tb := f.table("ds", "events")
	if tb.TimePartitioning == nil || tb.TimePartitioning.Type != "DAY" {
		t.Errorf("the created table is not partitioned by day: %+v", tb.TimePartitioning)
	}
}

// TestSinkRestartResumes checks that a second run learns where each
// partition ended from the streams it finalizes, and that a replay with
// other batch boundaries writes nothing twice.
func TestSinkRestartResumes(t *testing.T) {
	f := newFakeBQ(t)
	recs := records(40, 2, 0)
	first, _ := openSink(t, f.config(nil), "to-bq", 2)
	write(t, first, recs[:10])
	write(t, first, recs[10:25])
	// A crash: no Teardown, so the streams are never finalized by it.
	second, durable := openSink(t, f.config(nil), "to-bq", 2)
	if durable[0] != 13 || durable[1] != 12 {
		t.Fatalf("durable after a crash = %v, want 13 and 12", durable)
	}
	// The first run, a zombie now, cannot add to its fenced stream.
	if err := first.Write(context.Background(), recs[25:27]); err == nil {
		t.Fatal("a write of the fenced run succeeded")
	}
	// The host replays from its committed offsets, in other batches.
	write(t, second, recs[4:19])
	write(t, second, recs[19:40])
	if err := second.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantExactly(t, jsonRecords(f.rows("ds", "events")), recs)

	// A clean restart reads the row counts from the ledger.
	third, durable := openSink(t, f.config(nil), "to-bq", 2)
	if durable[0] != 20 || durable[1] != 20 {
		t.Fatalf("durable after a clean stop = %v, want 20 each", durable)
	}
	_ = third.Teardown(context.Background())
}

// TestSinkStreamExpired checks the fallback when a stream BigQuery no
// longer knows cannot be finalized: the highest offset in the table.
func TestSinkStreamExpired(t *testing.T) {
	f := newFakeBQ(t)
	recs := records(20, 1, 0)
	first, _ := openSink(t, f.config(nil), "to-bq", 1)
	write(t, first, recs[:12])
	f.expireStreams()
	second, durable := openSink(t, f.config(nil), "to-bq", 1)
	if durable[0] != 12 {
		t.Fatalf("durable after the stream expired = %v, want 12", durable)
	}
	write(t, second, recs[5:])
	if err := second.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantExactly(t, jsonRecords(f.rows("ds", "events")), recs)
	maxQueries := 0
	for _, q := range f.queryLog() {
		if strings.HasPrefix(q.SQL, "SELECT MAX(") {
			maxQueries++
		}
	}
	if maxQueries != 1 {
		t.Errorf("%d queries for the last offset, want 1", maxQueries)
	}
}

// TestSinkTwoInstancesRace opens two instances of one connector, as a
// zombie and its replacement would be: only one of them may write a
// partition, and the table ends up with each record once.
func TestSinkTwoInstancesRace(t *testing.T) {
	f := newFakeBQ(t)
	recs := records(20, 1, 0)
	zombie, _ := openSink(t, f.config(nil), "to-bq", 1)
	fresh, durable := openSink(t, f.config(nil), "to-bq", 1)
	if durable[0] != 0 {
		t.Fatalf("durable = %v", durable)
	}
	write(t, zombie, recs[:10])
	err := fresh.Write(context.Background(), recs[:10])
	if !errors.Is(err, connector.ErrRetryable) || !strings.Contains(err.Error(), "another instance of connector to-bq") {
		t.Fatalf("the second instance's write = %v, want a retryable error naming the race", err)
	}
	// The host reopens the second one, which fences the zombie.
	fresh, durable = openSink(t, f.config(nil), "to-bq", 1)
	if durable[0] != 10 {
		t.Fatalf("durable after reopening = %v, want 10", durable)
	}
	if err := zombie.Write(context.Background(), recs[10:]); err == nil {
		t.Fatal("the zombie wrote after it was fenced")
	}
	write(t, fresh, recs[10:])
	if err := fresh.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantExactly(t, jsonRecords(f.rows("ds", "events")), recs)
}

// TestSinkStreamExpiresWhileRunning checks that an append to a stream
// BigQuery dropped fails the Write (retryable) and that reopening resumes
// from the table without duplicates.
func TestSinkStreamExpiresWhileRunning(t *testing.T) {
	f := newFakeBQ(t)
	recs := records(20, 1, 0)
	snk, _ := openSink(t, f.config(nil), "to-bq", 1)
	write(t, snk, recs[:8])
	f.expireStreams()
	if err := snk.Write(context.Background(), recs[8:12]); !errors.Is(err, connector.ErrRetryable) {
		t.Fatalf("Write to an expired stream = %v, want a retryable error", err)
	}
	if err := snk.Write(context.Background(), recs[8:12]); !errors.Is(err, connector.ErrRetryable) {
		t.Fatalf("a second Write of the failed sink = %v, want a retryable error", err)
	}
	_ = snk.Teardown(context.Background())
	again, durable := openSink(t, f.config(nil), "to-bq", 1)
	if durable[0] != 8 {
		t.Fatalf("durable = %v, want 8", durable)
	}
	write(t, again, recs[8:])
	if err := again.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantExactly(t, jsonRecords(f.rows("ds", "events")), recs)
}
