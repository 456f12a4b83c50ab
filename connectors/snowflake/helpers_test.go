package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/junctionhq/junction/connectors/snowflake/internal/sffake"
	"github.com/junctionhq/junction/sdk/connector"
)

func TestMain(m *testing.M) {
	// What openDB sets too; set here for tests that drive the driver
	// directly.
	os.Setenv("SNOWFLAKE_DISABLE_PLATFORM_DETECTION", "true")
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// fakeConfig is a connector config for the fake (key-pair auth), merged
// with extra.
func fakeConfig(f *sffake.Server, extra map[string]any) map[string]any {
	cfg := map[string]any{
		"account":     sffake.Account,
		"user":        sffake.User,
		"private_key": f.PrivateKeyPEM(),
		"warehouse":   sffake.Warehouse,
		"database":    sffake.Database,
		"schema":      sffake.Schema,
		"table":       "EVENTS",
		"auto_create": true,
		"url":         f.URL,
		"retries":     1,
	}
	for k, v := range extra {
		if v == nil {
			delete(cfg, k)
			continue
		}
		cfg[k] = v
	}
	return cfg
}

// openSink decodes cfg as Configure would and opens a sink.
func openSink(t testing.TB, cfg map[string]any, station string, partitions uint32) (*sink, map[uint32]uint64) {
	t.Helper()
	snk, durable, err := tryOpenSink(cfg, station, partitions)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = snk.Teardown(context.Background()) })
	return snk, durable
}

func tryOpenSink(cfg map[string]any, station string, partitions uint32) (*sink, map[uint32]uint64, error) {
	c, err := definition().Sink.Decode(cfg)
	if err != nil {
		return nil, nil, err
	}
	snk, err := newSink(c.(SinkConfig))
	if err != nil {
		return nil, nil, err
	}
	durable, err := snk.Open(context.Background(), connector.SinkInfo{Connector: "test", Station: station, Partitions: partitions})
	if err != nil {
		_ = snk.Teardown(context.Background())
		return nil, nil, err
	}
	return snk.(*sink), durable, nil
}

// readVariant reads a variant-mode table back, sorted by partition and
// offset.
func readVariant(f *sffake.Server, table string) ([]connector.Record, error) {
	rows, err := f.Query(`SELECT "RECORD_METADATA", "RECORD_CONTENT" FROM ` + table)
	if err != nil {
		return nil, err
	}
	var out []connector.Record
	for _, r := range rows {
		var m metadata
		if err := json.Unmarshal([]byte(*r[0]), &m); err != nil {
			return nil, fmt.Errorf("RECORD_METADATA %s: %w", *r[0], err)
		}
		rec := connector.Record{Partition: m.Partition, Offset: m.Offset}
		if m.Timestamp != "" {
			if rec.Timestamp, err = time.Parse(time.RFC3339Nano, m.Timestamp); err != nil {
				return nil, err
			}
		}
		if rec.Key, err = unembed(m.Key, m.KeyEncoding); err != nil {
			return nil, err
		}
		content := json.RawMessage("null")
		if r[1] != nil {
			content = json.RawMessage(*r[1])
		}
		if rec.Value, err = unembed(content, m.ValueEncoding); err != nil {
			return nil, err
		}
		for _, h := range m.Headers {
			v, err := unembed(h.Value, h.ValueEncoding)
			if err != nil {
				return nil, err
			}
			rec.Headers = append(rec.Headers, connector.Header{Key: h.Key, Value: v})
		}
		out = append(out, rec)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out, nil
}

const table = `"JUNCTION_DB"."PUBLIC"."EVENTS"`

var base = time.Date(2026, 11, 25, 13, 4, 5, 0, time.UTC)

// records makes n records over partitions with JSON, text and binary
// values, one millisecond apart.
func records(n int, partitions uint32) []connector.Record {
	next := make(map[uint32]uint64)
	out := make([]connector.Record, n)
	for i := range out {
		p := uint32(i) % partitions
		var v []byte
		switch i % 3 {
		case 0:
			v = fmt.Appendf(nil, `{"n":%d,"name":"n%d"}`, i, i)
		case 1:
			v = fmt.Appendf(nil, "text %d ü", i)
		default:
			v = []byte{0xff, byte(i), 0}
		}
		out[i] = connector.Record{
			Key: fmt.Appendf(nil, "k%d", i), Value: v, Partition: p, Offset: next[p],
			Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			Headers:   []connector.Header{{Key: "h", Value: fmt.Appendf(nil, "v%d", i)}},
		}
		next[p]++
	}
	return out
}

func sortRecords(recs []connector.Record) []connector.Record {
	out := append([]connector.Record(nil), recs...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out
}

// sameRecords compares records by partition, offset, key, value, headers
// and timestamp.
func sameRecords(t *testing.T, got, want []connector.Record) {
	t.Helper()
	want = sortRecords(want)
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		same := g.Partition == w.Partition && g.Offset == w.Offset && bytes.Equal(g.Key, w.Key) &&
			bytes.Equal(g.Value, w.Value) && g.Timestamp.Equal(w.Timestamp) && len(g.Headers) == len(w.Headers)
		for j := 0; same && j < len(g.Headers); j++ {
			same = g.Headers[j].Key == w.Headers[j].Key && bytes.Equal(g.Headers[j].Value, w.Headers[j].Value)
		}
		if !same {
			t.Fatalf("record %d:\n got p%d@%d key=%q value=%q headers=%v ts=%s\nwant p%d@%d key=%q value=%q headers=%v ts=%s", i,
				g.Partition, g.Offset, g.Key, g.Value, g.Headers, g.Timestamp, w.Partition, w.Offset, w.Key, w.Value, w.Headers, w.Timestamp)
		}
	}
}

func write(t testing.TB, snk connector.Sink, recs []connector.Record) {
	t.Helper()
	if err := snk.Write(context.Background(), recs); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// metadata is RECORD_METADATA as variantRow writes it.
type metadata struct {
	Station       string          `json:"station"`
	Partition     uint32          `json:"partition"`
	Offset        uint64          `json:"offset"`
	Timestamp     string          `json:"timestamp,omitempty"`
	Key           json.RawMessage `json:"key,omitempty"`
	KeyEncoding   string          `json:"key_encoding,omitempty"`
	Headers       []header        `json:"headers,omitempty"`
	ValueEncoding string          `json:"value_encoding,omitempty"`
}

type header struct {
	Key           string          `json:"key"`
	Value         json.RawMessage `json:"value"`
	ValueEncoding string          `json:"value_encoding,omitempty"`
}

// unembed is embed's inverse.
func unembed(raw json.RawMessage, encoding string) ([]byte, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '"' {
		return []byte(raw), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	switch encoding {
	case "":
		return []byte(s), nil
	case "base64":
		return base64.StdEncoding.DecodeString(s)
	}
	return nil, fmt.Errorf("unknown encoding %q", encoding)
}
