package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/junctionhq/junction/sdk/connector"
)

// liveCredentials is GOOGLE_APPLICATION_CREDENTIALS as the tests found
// it, for the live test only.
var liveCredentials string

func TestMain(m *testing.M) {
	liveCredentials = os.Getenv("GOOGLE_APPLICATION_CREDENTIALS")
	// Nothing in these tests may reach Google: no application default
	// credentials, and a metadata server address on loopback where
	// nothing listens, should any code path probe for one.
	os.Unsetenv("GOOGLE_APPLICATION_CREDENTIALS")
	os.Setenv("GCE_METADATA_HOST", "127.0.0.1:9")
	if os.Getenv("BIGQUERY_PROJECT") == "" {
		// And any HTTP or gRPC connection to a host that is not loopback
		// goes to a proxy on loopback where nothing listens, and fails.
		for _, v := range []string{"HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"} {
			os.Setenv(v, "http://127.0.0.1:9")
		}
		os.Unsetenv("NO_PROXY")
		os.Unsetenv("no_proxy")
	}
	os.Exit(m.Run())
}

var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// openSink configures and opens a sink directly (no plugin process) for
// station "orders", returning it and what Open reported as durable.
func openSink(t testing.TB, cfg map[string]any, name string, partitions uint32) (connector.Sink, map[uint32]uint64) {
	t.Helper()
	snk, err := buildSink(cfg)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	durable, err := snk.Open(context.Background(), connector.SinkInfo{Connector: name, Station: "orders", Partitions: partitions})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return snk, durable
}

func buildSink(cfg map[string]any) (connector.Sink, error) {
	c, err := definition().Sink.Decode(cfg)
	if err != nil {
		return nil, err
	}
	return newSink(c.(SinkConfig))
}

func openSource(t testing.TB, cfg map[string]any, pos connector.Position) connector.Source {
	t.Helper()
	c, err := definition().Source.Decode(cfg)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	src, _ := newSource(c.(SourceConfig))
	if err := src.Open(context.Background(), pos); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = src.Teardown(context.Background()) })
	return src
}

// records makes n records over partitions with JSON, text and binary
// values, one millisecond apart from base.
func records(n int, partitions uint32, from uint64) []connector.Record {
	next := make(map[uint32]uint64)
	out := make([]connector.Record, n)
	for i := range out {
		p := uint32(i) % partitions
		if _, ok := next[p]; !ok {
			next[p] = from
		}
		var v []byte
		switch i % 3 {
		case 0:
			v = fmt.Appendf(nil, `{"n":%d}`, i)
		case 1:
			v = fmt.Appendf(nil, "text %d", i)
		default:
			v = []byte{0xff, byte(i), 0}
		}
		out[i] = connector.Record{Key: fmt.Appendf(nil, "k%d", i), Value: v, Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			Partition: p, Offset: next[p], Headers: []connector.Header{{Key: "h", Value: []byte("v")}}}
		next[p]++
	}
	return out
}

// jsonRecords turns rows of a json mode table back into records, sorted
// by partition and offset.
func jsonRecords(rows []map[string]any) []connector.Record {
	out := make([]connector.Record, 0, len(rows))
	for _, row := range rows {
		r := connector.Record{Partition: uint32(row[colPartition].(int64)), Offset: uint64(row[colOffset].(int64))}
		if ts, ok := row[colTimestamp].(int64); ok {
			r.Timestamp = time.UnixMicro(ts).UTC()
		}
		r.Key, _ = row[colKey].([]byte)
		if hs, ok := row[colHeaders].([]any); ok {
			for _, h := range hs {
				hm := h.(map[string]any)
				v, _ := hm["value"].([]byte)
				r.Headers = append(r.Headers, connector.Header{Key: hm["key"].(string), Value: v})
			}
		}
		if v, ok := row[colValue].(string); ok {
			var s string
			if json.Unmarshal([]byte(v), &s) == nil {
				r.Value = []byte(s)
			} else {
				r.Value = []byte(v)
			}
		}
		if v, ok := row[colValueBytes].([]byte); ok {
			r.Value = v
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out
}

func write(t testing.TB, snk connector.Sink, recs []connector.Record) {
	t.Helper()
	if err := snk.Write(context.Background(), recs); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// wantExactly checks that the table holds each of want exactly once.
func wantExactly(t testing.TB, got []connector.Record, want []connector.Record) {
	t.Helper()
	type pos struct {
		p uint32
		o uint64
	}
	seen := map[pos]int{}
	for _, r := range got {
		seen[pos{r.Partition, r.Offset}]++
	}
	for _, r := range want {
		if n := seen[pos{r.Partition, r.Offset}]; n != 1 {
			t.Fatalf("record %d/%d is in the table %d times", r.Partition, r.Offset, n)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("the table holds %d rows, want %d", len(got), len(want))
	}
}
