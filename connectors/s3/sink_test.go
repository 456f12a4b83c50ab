package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/connectortest"
)

func TestSinkConformance(t *testing.T) {
	for _, tc := range []struct{ format, compression string }{{"jsonl", "gzip"}, {"parquet", "zstd"}} {
		t.Run(tc.format, func(t *testing.T) {
			connectortest.RunSink(t, definition(), func(t *testing.T) connectortest.SinkHarness {
				f := newFakeS3(t)
				return connectortest.SinkHarness{
					Config:   f.config(map[string]any{"prefix": "out/", "format": tc.format, "compression": tc.compression}),
					ReadBack: func() ([]connector.Record, error) { return f.readBack(t, "") },
				}
			})
		})
	}
}

func TestSinkObjects(t *testing.T) {
	f := newFakeS3(t)
	snk, durable := openSink(t, f.config(map[string]any{"prefix": "exports/", "flush": map[string]any{"across_writes": true, "max_records": 10}}), "orders", 2)
	if want := map[uint32]uint64{0: 0, 1: 0}; !mapsEqual(durable, want) {
		t.Fatalf("durable on an empty bucket = %v, want %v", durable, want)
	}
	recs := records(45, 2, base)
	ctx := context.Background()
	if err := snk.Write(ctx, recs[:30]); err != nil {
		t.Fatal(err)
	}
	// 15 records per partition: one object of 10 each, 5 each buffered.
	wantKeys := []string{
		"exports/orders/partition=0/2026/11/25/13/00000000000000000000-00000000000000000009.jsonl",
		"exports/orders/partition=1/2026/11/25/13/00000000000000000000-00000000000000000009.jsonl",
	}
	if got := f.keys(t, ""); !slices.Equal(got, wantKeys) {
		t.Fatalf("keys after Write:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantKeys, "\n"))
	}
	if err := snk.Write(ctx, recs[30:]); err != nil {
		t.Fatal(err)
	}
	if err := snk.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	wantKeys = append(wantKeys,
		"exports/orders/partition=0/2026/11/25/13/00000000000000000010-00000000000000000019.jsonl",
		"exports/orders/partition=0/2026/11/25/13/00000000000000000020-00000000000000000022.jsonl",
		"exports/orders/partition=1/2026/11/25/13/00000000000000000010-00000000000000000019.jsonl",
		"exports/orders/partition=1/2026/11/25/13/00000000000000000020-00000000000000000021.jsonl",
	)
	slices.Sort(wantKeys)
	if got := f.keys(t, ""); !slices.Equal(got, wantKeys) {
		t.Fatalf("keys after Teardown:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantKeys, "\n"))
	}
	got, err := f.readBack(t, "")
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, byPartition(recs))
	first := string(f.get(t, wantKeys[0]))
	want := `{"station":"orders","partition":0,"offset":0,"timestamp":"2026-11-25T13:04:05Z","key":"k0","headers":[{"key":"h","value":"v0"}],"value":{"n":0}}` + "\n"
	if !strings.HasPrefix(first, want) {
		t.Errorf("first line = %q, want %q", first[:len(want)], want)
	}
}

func byPartition(recs []connector.Record) []connector.Record {
	out := slices.Clone(recs)
	slices.SortStableFunc(out, func(a, b connector.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition) - int(b.Partition)
		}
		return int(a.Offset) - int(b.Offset)
	})
	return out
}

func mapsEqual(a, b map[uint32]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestSinkFormats(t *testing.T) {
	for _, tc := range []struct {
		format, compression, ext string
	}{
		{"jsonl", "none", ".jsonl"},
		{"jsonl", "gzip", ".jsonl.gz"},
		{"jsonl", "zstd", ".jsonl.zst"},
		{"lines", "gzip", ".txt.gz"},
		{"lines", "zstd", ".txt.zst"},
		{"parquet", "none", ".parquet"},
		{"parquet", "gzip", ".parquet"},
		{"parquet", "zstd", ".parquet"},
	} {
		t.Run(tc.format+"-"+tc.compression, func(t *testing.T) {
			f := newFakeS3(t)
			snk, _ := openSink(t, f.config(map[string]any{"format": tc.format, "compression": tc.compression}), "st", 3)
			recs := records(60, 3, base)
			if tc.format == "lines" {
				for i := range recs {
					recs[i] = connector.Record{Value: fmt.Appendf(nil, "line %d ü", i), Partition: recs[i].Partition, Offset: recs[i].Offset}
				}
			}
			if err := snk.Write(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
			if err := snk.Teardown(context.Background()); err != nil {
				t.Fatal(err)
			}
			keys := f.keys(t, "")
			if len(keys) != 3 {
				t.Fatalf("keys = %v, want one per partition", keys)
			}
			for _, k := range keys {
				if !strings.HasSuffix(k, tc.ext) {
					t.Errorf("key %s, want extension %s", k, tc.ext)
				}
			}
			if tc.compression == "gzip" && tc.format != "parquet" && !bytes.HasPrefix(f.get(t, keys[0]), []byte{0x1f, 0x8b}) {
				t.Errorf("%s is not gzip", keys[0])
			}
			got, err := f.readBack(t, "")
			if err != nil {
				t.Fatal(err)
			}
			if tc.format == "lines" {
				var want [][]byte
				for _, r := range byPartition(recs) {
					want = append(want, r.Value)
				}
				for i := range got {
					if i >= len(want) || !bytes.Equal(got[i].Value, want[i]) {
						t.Fatalf("line %d = %q", i, got[i].Value)
					}
				}
				if len(got) != len(want) {
					t.Fatalf("got %d lines, want %d", len(got), len(want))
				}
				return
			}
			sameRecords(t, got, byPartition(recs))
		})
	}
}

func TestSinkLinesRejectsLineBreaks(t *testing.T) {
	f := newFakeS3(t)
	snk, _ := openSink(t, f.config(map[string]any{"format": "lines"}), "st", 1)
	err := snk.Write(context.Background(), []connector.Record{
		{Value: []byte("a"), Offset: 0}, {Value: []byte("b\nc"), Offset: 1}, {Value: []byte("d"), Offset: 2},
	})
	be, ok := err.(*connector.BatchError)
	if !ok || len(be.Failed) != 1 || be.Failed[1] == nil {
		t.Fatalf("Write = %v, want a BatchError for record 1", err)
	}
	if err := snk.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := string(f.get(t, f.keys(t, "")[0])); got != "a\nd\n" {
		t.Errorf("object = %q, want a and d", got)
	}
}

func TestSinkRotation(t *testing.T) {
	t.Run("rotate_interval", func(t *testing.T) {
		f := newFakeS3(t)
		snk, _ := openSink(t, f.config(map[string]any{"flush": map[string]any{"across_writes": true, "rotate_interval": "10s"}}), "st", 1)
		var recs []connector.Record
		for i, sec := range []int{0, 3, 9, 10, 12, 25, 26} {
			recs = append(recs, connector.Record{Value: []byte("x"), Offset: uint64(i), Timestamp: base.Add(time.Duration(sec) * time.Second)})
		}
		write(t, snk, recs)
		want := []string{"0-2", "3-4", "5-6"}
		if got := ranges(f.keys(t, "")); !slices.Equal(got, want) {
			t.Errorf("objects %v, want %v", got, want)
		}
	})
	t.Run("max_bytes", func(t *testing.T) {
		f := newFakeS3(t)
		snk, _ := openSink(t, f.config(map[string]any{"format": "lines", "flush": map[string]any{"across_writes": true, "max_bytes": 30}}), "st", 1)
		var recs []connector.Record
		for i := range 7 {
			recs = append(recs, connector.Record{Value: []byte("123456789"), Offset: uint64(i), Timestamp: base})
		}
		write(t, snk, recs)
		want := []string{"0-2", "3-5", "6-6"}
		if got := ranges(f.keys(t, "")); !slices.Equal(got, want) {
			t.Errorf("objects %v, want %v", got, want)
		}
	})
	t.Run("max_buffer_bytes", func(t *testing.T) {
		f := newFakeS3(t)
		snk, _ := openSink(t, f.config(map[string]any{"format": "lines", "max_buffer_bytes": 100, "flush": map[string]any{"across_writes": true}}), "st", 3)
		// Partition 2 gets 60 bytes, 0 and 1 20 each: the next record
		// crosses the cap and partition 2's buffer is uploaded.
		var recs []connector.Record
		for i := range 6 {
			recs = append(recs, connector.Record{Value: []byte("123456789"), Partition: 2, Offset: uint64(i), Timestamp: base})
		}
		for p := range uint32(2) {
			for i := range 2 {
				recs = append(recs, connector.Record{Value: []byte("123456789"), Partition: p, Offset: uint64(i), Timestamp: base})
			}
		}
		recs = append(recs, connector.Record{Value: []byte("123456789"), Partition: 0, Offset: 2, Timestamp: base})
		if err := snk.Write(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
		keys := f.keys(t, "")
		if len(keys) != 1 || !strings.Contains(keys[0], "partition=2/") {
			t.Fatalf("objects before Teardown %v, want partition 2's", keys)
		}
		if snk.total > 100 {
			t.Errorf("buffered %d bytes, cap 100", snk.total)
		}
		if err := snk.Teardown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := len(f.keys(t, "")); got != 3 {
			t.Errorf("%d objects after Teardown, want 3", got)
		}
	})
	t.Run("wall_clock_interval", func(t *testing.T) {
		f := newFakeS3(t)
		snk, _ := openSink(t, f.config(map[string]any{"flush": map[string]any{"across_writes": true, "wall_clock_interval": "50ms"}}), "st", 1)
		if err := snk.Write(context.Background(), []connector.Record{{Value: []byte("x"), Timestamp: base}}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(f.keys(t, "")) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no object 5s after a record arrived with wall_clock_interval 50ms")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := snk.Teardown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func write(t *testing.T, snk *sink, recs []connector.Record) {
	t.Helper()
	if err := snk.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if err := snk.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// ranges turns keys into "first-last" offsets, trimmed of zeros.
func ranges(keys []string) []string {
	var out []string
	for _, k := range keys {
		name := k[strings.LastIndexByte(k, '/')+1:]
		name = name[:strings.IndexByte(name, '.')]
		first, last, _ := strings.Cut(name, "-")
		out = append(out, strings.TrimLeft(first[:19], "0")+first[19:]+"-"+strings.TrimLeft(last[:19], "0")+last[19:])
	}
	return out
}

func TestSinkOpenFindsDurableOffsets(t *testing.T) {
	f := newFakeS3(t)
	// Objects of another station, a foreign file and a lower object must
	// not confuse the scan.
	f.put(t, "orders/partition=0/2026/11/25/13/00000000000000000000-00000000000000000099.jsonl", []byte("{}\n"))
	f.put(t, "orders/partition=0/2026/11/25/14/00000000000000000100-00000000000000000199.jsonl.gz", []byte("x"))
	f.put(t, "orders/partition=3/2026/11/25/14/00000000000000000000-00000000000000000041.parquet", []byte("x"))
	f.put(t, "orders/partition=1/README.txt", []byte("x"))
	f.put(t, "orders-eu/partition=1/2026/11/25/14/00000000000000000000-00000000000000000999.jsonl", []byte("x"))
	snk, durable := openSink(t, f.config(nil), "orders", 2)
	want := map[uint32]uint64{0: 200, 1: 0, 3: 42}
	if !mapsEqual(durable, want) {
		t.Errorf("durable = %v, want %v", durable, want)
	}
	// Records below the durable offsets are skipped.
	if err := snk.Write(context.Background(), []connector.Record{{Offset: 199, Value: []byte("1")}, {Offset: 200, Value: []byte("2"), Timestamp: base}}); err != nil {
		t.Fatal(err)
	}
	if err := snk.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(f.keys(t, ""), "orders/partition=0/2026/11/25/13/00000000000000000200-00000000000000000200.jsonl") {
		t.Errorf("keys %v, want one for offset 200 alone", f.keys(t, ""))
	}
}

func TestSinkOpenWithoutLastOffsetInTemplate(t *testing.T) {
	f := newFakeS3(t)
	cfg := f.config(map[string]any{"key_template": "{station}/{partition}/{first_offset}.{ext}", "flush": map[string]any{"across_writes": true, "max_records": 5}})
	snk, _ := openSink(t, cfg, "st", 1)
	write(t, snk, records(12, 1, base))
	if got := f.keys(t, ""); !slices.Equal(got, []string{
		"st/0/00000000000000000000.jsonl", "st/0/00000000000000000005.jsonl", "st/0/00000000000000000010.jsonl",
	}) {
		t.Fatalf("keys %v", got)
	}
	_, durable := openSink(t, cfg, "st", 1)
	if durable[0] != 12 {
		t.Errorf("durable = %v, want 12 for partition 0 (from the last object's metadata)", durable)
	}
}

func TestKeyTemplate(t *testing.T) {
	tmpl, err := parseKeyTemplate(defaultKeyTemplate)
	if err != nil {
		t.Fatal(err)
	}
	got := tmpl.render(keyFields{station: "orders", ext: "jsonl.gz", partition: 0, first: 12000, last: 12999, time: base})
	if want := "orders/partition=0/2026/11/25/13/00000000000000012000-00000000000000012999.jsonl.gz"; got != want {
		t.Errorf("render = %s, want %s", got, want)
	}
	prefix, re := tmpl.matcher("x/", "a.b")
	if prefix != "x/a.b/partition=" {
		t.Errorf("list prefix = %q", prefix)
	}
	if k, ok := parseKey(re, "x/a.b/partition=7/2026/11/25/13/00000000000000000005-00000000000000000009.parquet"); !ok || k.partition != 7 || k.first != 5 || k.last != 9 {
		t.Errorf("parseKey = %+v %v", k, ok)
	}
	if _, ok := parseKey(re, "x/aXb/partition=7/2026/11/25/13/00000000000000000005-00000000000000000009.parquet"); ok {
		t.Error("parseKey matched another station")
	}
	for tmpl, want := range map[string]string{
		"{station}/{partition}/{offset}.{ext}":    "unknown field {offset}",
		"{station}/{first_offset}.{ext}":          "must contain {partition}",
		"{station}/{partition}/{last_offset}":     "must contain {first_offset}",
		"{station}/{partition}/{first_offset":     "unclosed {",
		"{station}}/{partition}/{first_offset}":   "unmatched }",
		"{station}/p={partition}/{first_offset}x": "",
	} {
		_, err := parseKeyTemplate(tmpl)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("parseKeyTemplate(%q) = %v, want %q", tmpl, err, want)
		}
	}
}

func TestSinkConfigureRejectsBadKeyTemplate(t *testing.T) {
	f := newFakeS3(t)
	inst := connectortest.Start(t, definition())
	fes, err := inst.Connector.Configure(context.Background(), connector.KindSink, "orders", "orders-to-s3",
		f.config(map[string]any{"key_template": "{station}/{hour}/{first_offset}.{ext}"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(fes) != 1 || fes[0].Field != "key_template" || !strings.Contains(fes[0].Message, "{hour}") {
		t.Errorf("field errors %v, want one naming key_template and {hour}", fes)
	}
}

// TestSinkUploadFailureKeepsBuffer checks that a failed upload leaves the
// records buffered, so the retried Write uploads them under the same key.
func TestSinkUploadFailureKeepsBuffer(t *testing.T) {
	f := newFakeS3(t)
	snk, _ := openSink(t, f.config(map[string]any{"max_attempts": 1, "flush": map[string]any{"across_writes": true, "max_records": 4}}), "st", 1)
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut {
			http.Error(w, "", http.StatusInternalServerError)
			return true
		}
		return false
	})
	recs := records(4, 1, base)
	err := snk.Write(context.Background(), recs)
	if err == nil || !isRetryable(err) {
		t.Fatalf("Write with failing uploads = %v, want a retryable error", err)
	}
	f.setHook(nil)
	if err := snk.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if err := snk.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := f.readBack(t, "")
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, recs)
}

// By default every Write uploads what it buffered before returning, so
// what the broker counts as written is in the bucket whatever the station
// retains.
func TestSinkUploadsEveryWriteByDefault(t *testing.T) {
	f := newFakeS3(t)
	snk, _ := openSink(t, f.config(map[string]any{"flush": map[string]any{"max_records": 1000}}), "st", 2)
	ctx := context.Background()
	if err := snk.Write(ctx, []connector.Record{
		{Partition: 0, Offset: 0, Value: []byte(`"a"`), Timestamp: time.Unix(1700000000, 0)},
		{Partition: 1, Offset: 0, Value: []byte(`"b"`), Timestamp: time.Unix(1700000000, 0)},
		{Partition: 0, Offset: 1, Value: []byte(`"c"`), Timestamp: time.Unix(1700000000, 0)},
	}); err != nil {
		t.Fatal(err)
	}
	if keys := f.keys(t, ""); len(keys) != 2 {
		t.Fatalf("after one Write the bucket holds %v, want one object per partition", keys)
	}
	snk.Teardown(ctx)
	_, durable := openSink(t, f.config(map[string]any{}), "st", 2)
	if durable[0] != 2 || durable[1] != 1 {
		t.Fatalf("durable offsets after reopening = %v, want {0:2 1:1}", durable)
	}
}
