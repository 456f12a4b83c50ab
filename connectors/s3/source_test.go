package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/connectortest"
	"github.com/junctionhq/junction/sdk/connector/jsonl"
)

func TestSourceConformance(t *testing.T) {
	connectortest.RunSource(t, definition(), func(t *testing.T) connectortest.SourceHarness {
		f := newFakeS3(t)
		n := 0
		return connectortest.SourceHarness{
			Config: f.config(map[string]any{"prefix": "in/", "poll_interval": "20ms"}),
			Produce: func(recs []connector.Record) error {
				var body []byte
				for _, r := range recs {
					line, err := jsonl.Encode("", r)
					if err != nil {
						return err
					}
					body = append(body, line...)
				}
				n++
				f.put(t, fmt.Sprintf("in/%06d.jsonl", n), body)
				return nil
			},
		}
	})
}

func linesObject(first, n int) []byte {
	var b bytes.Buffer
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	return b.Bytes()
}

func values(recs []connector.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, string(r.Value))
	}
	return out
}

func wantLines(first, n int) []string {
	var out []string
	for i := first; i < first+n; i++ {
		out = append(out, fmt.Sprintf("line %d", i))
	}
	return out
}

func TestSourceReadsLinesInKeyOrder(t *testing.T) {
	f := newFakeS3(t)
	f.put(t, "in/b.txt", linesObject(3, 2))
	f.put(t, "in/a.txt", linesObject(0, 3))
	f.put(t, "other/c.txt", linesObject(100, 1))
	f.put(t, "in/c.txt.gz", mustCompress(t, linesObject(5, 2), "gzip"))
	f.put(t, "in/d.txt.zst", mustCompress(t, linesObject(7, 2), "zstd"))
	src := openSource(t, f.config(map[string]any{"prefix": "in/", "poll_interval": "20ms"}), nil)
	recs, _, _ := readAll(t, src, 9)
	if got, want := strings.Join(values(recs), ","), strings.Join(wantLines(0, 9), ","); got != want {
		t.Fatalf("values %s, want %s", got, want)
	}
	if k, l := headerOf(recs[4], headerKey), headerOf(recs[4], headerLine); k != "in/b.txt" || l != "2" {
		t.Errorf("record 4 headers %s line %s, want in/b.txt line 2", k, l)
	}
	expectIdle(t, src)
	f.put(t, "in/e.txt", linesObject(9, 1))
	recs, _, _ = readAll(t, src, 1)
	if got := values(recs); len(got) != 1 || got[0] != "line 9" {
		t.Errorf("after a new object: %v", got)
	}
}

func mustCompress(t *testing.T, data []byte, compression string) []byte {
	t.Helper()
	b, err := compress(data, compression)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSourceResumesFromPosition(t *testing.T) {
	for _, ext := range []string{".txt", ".txt.gz", ".parquet"} {
		t.Run(ext, func(t *testing.T) {
			f := newFakeS3(t)
			for i, name := range []string{"a", "b", "c"} {
				body := linesObject(i*10, 10)
				switch ext {
				case ".txt.gz":
					body = mustCompress(t, body, "gzip")
				case ".parquet":
					var rows []parquetRow
					for j := range 10 {
						rows = append(rows, toRow(connector.Record{Value: fmt.Appendf(nil, "line %d", i*10+j)}))
					}
					var err error
					if body, err = encodeParquet(rows, "zstd"); err != nil {
						t.Fatal(err)
					}
				}
				f.put(t, "in/"+name+ext, body)
			}
			cfg := f.config(map[string]any{"prefix": "in/", "poll_interval": "20ms", "batch": map[string]any{"max_records": 4}})
			for _, stop := range []int{1, 3, 4, 7} { // batches read before a restart
				src := openSource(t, cfg, nil)
				var got []connector.Record
				var pos connector.Position
				for range stop {
					recs, _, positions := readAll(t, src, 1)
					got = append(got, recs...)
					pos = positions[len(positions)-1]
				}
				_ = src.Teardown(context.Background())
				src = openSource(t, cfg, pos)
				rest, _, _ := readAll(t, src, 30-len(got))
				got = append(got, rest...)
				if g, w := strings.Join(values(got), ","), strings.Join(wantLines(0, 30), ","); g != w {
					t.Fatalf("restart after %d batches (position %s): read %s, want %s", stop, pos, g, w)
				}
				for _, r := range got {
					var n int
					fmt.Sscanf(string(r.Value), "line %d", &n)
					if l := headerOf(r, headerLine); l != fmt.Sprint(n%10+1) {
						t.Fatalf("%q has %s %s, want %d", r.Value, headerLine, l, n%10+1)
					}
				}
				expectIdle(t, src)
			}
		})
	}
}

func TestSourceRereadsChangedObject(t *testing.T) {
	f := newFakeS3(t)
	f.put(t, "in/a.txt", linesObject(0, 5))
	cfg := f.config(map[string]any{"prefix": "in/", "poll_interval": "20ms", "batch": map[string]any{"max_records": 2}})
	src := openSource(t, cfg, nil)
	_, _, positions := readAll(t, src, 2)
	_ = src.Teardown(context.Background())
	f.put(t, "in/a.txt", linesObject(100, 3))
	src = openSource(t, cfg, positions[len(positions)-1])
	recs, _, _ := readAll(t, src, 3)
	if got, want := strings.Join(values(recs), ","), strings.Join(wantLines(100, 3), ","); got != want {
		t.Errorf("after the object changed: %s, want %s (read again from the start)", got, want)
	}
	expectIdle(t, src)
}

func TestSourceRejectsBadLines(t *testing.T) {
	f := newFakeS3(t)
	good, _ := jsonl.Encode("st", connector.Record{Key: []byte("k"), Value: []byte(`{"a":1}`), Headers: []connector.Header{{Key: "h", Value: []byte("v")}}, Timestamp: base})
	body := append(append([]byte(`{"value":"plain"}`+"\n"+`not json`+"\n"), good...), []byte(`{"other":true}`+"\n")...)
	f.put(t, "in/a.jsonl", body)
	f.put(t, "in/b.jsonl.gz", []byte("not gzip at all"))
	src := openSource(t, f.config(map[string]any{"prefix": "in/", "poll_interval": "20ms"}), nil)
	recs, rejected, _ := readAll(t, src, 5)
	if len(recs) != 3 || len(rejected) != 2 {
		t.Fatalf("got %d records and %d rejections, want 3 and 2", len(recs), len(rejected))
	}
	if r := rejected[0]; !strings.Contains(r.Reason, "in/a.jsonl line 2") || string(r.Record.Value) != "not json" {
		t.Errorf("rejection %q of %q, want the key and line 2", r.Reason, r.Record.Value)
	}
	if r := rejected[1]; !strings.Contains(r.Reason, "in/b.jsonl.gz") || !strings.Contains(r.Reason, "gzip") {
		t.Errorf("rejection %q, want the undecodable object named", r.Reason)
	}
	if r := recs[1]; string(r.Key) != "k" || string(r.Value) != `{"a":1}` || !r.Timestamp.Equal(base) || headerOf(r, "h") != "v" || headerOf(r, headerLine) != "3" {
		t.Errorf("sink-written line restored as %+v", r)
	}
	if string(recs[0].Value) != "plain" || string(recs[2].Value) != `{"other":true}` {
		t.Errorf("values %q %q", recs[0].Value, recs[2].Value)
	}
	expectIdle(t, src)
}

func TestSourceAfterRead(t *testing.T) {
	for _, mode := range []string{"delete", "move"} {
		t.Run(mode, func(t *testing.T) {
			f := newFakeS3(t)
			f.put(t, "in/a.txt", linesObject(0, 3))
			f.put(t, "in/b.txt", linesObject(3, 3))
			f.put(t, "in/c.txt", linesObject(6, 3))
			cfg := f.config(map[string]any{"prefix": "in/", "poll_interval": "20ms", "after_read": mode, "move_prefix": "done/", "batch": map[string]any{"max_records": 2}})
			src := openSource(t, cfg, nil)
			_, _, positions := readAll(t, src, 4) // a and half of b
			if got := f.keys(t, "in/"); len(got) != 3 {
				t.Fatalf("objects %v before Ack, want all 3", got)
			}
			if err := src.Ack(context.Background(), positions); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(f.keys(t, ""), ","); mode == "delete" && got != "in/b.txt,in/c.txt" || mode == "move" && got != "done/a.txt,in/b.txt,in/c.txt" {
				t.Fatalf("after Ack: %s", got)
			}
			// A restart at a position past b (done) cleans b up in Open.
			_, _, more := readAll(t, src, 2)
			var p position
			_ = json.Unmarshal(more[len(more)-1], &p)
			if p.Key != "in/b.txt" || !p.Done {
				t.Fatalf("position %+v, want b done", p)
			}
			_ = src.Teardown(context.Background())
			src = openSource(t, cfg, more[len(more)-1])
			if got := strings.Join(f.keys(t, "in/"), ","); got != "in/c.txt" {
				t.Errorf("after reopening past b: %s", got)
			}
			recs, _, _ := readAll(t, src, 3)
			if got := strings.Join(values(recs), ","); got != strings.Join(wantLines(6, 3), ",") {
				t.Errorf("after reopening: %s", got)
			}
		})
	}
}

// TestRoundTrip writes records with the sink in each format and reads the
// objects back with the source.
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct{ format, compression string }{{"jsonl", "zstd"}, {"lines", "gzip"}, {"parquet", "gzip"}} {
		t.Run(tc.format, func(t *testing.T) {
			f := newFakeS3(t)
			recs := records(100, 1, base)
			if tc.format == "lines" {
				for i := range recs {
					recs[i] = connector.Record{Value: fmt.Appendf(nil, "v%d", i), Offset: uint64(i)}
				}
			}
			snk, _ := openSink(t, f.config(map[string]any{"prefix": "x/", "format": tc.format, "compression": tc.compression, "flush": map[string]any{"max_records": 30}}), "st", 1)
			write(t, snk, recs)
			src := openSource(t, f.config(map[string]any{"prefix": "x/", "poll_interval": "20ms"}), nil)
			got, _, _ := readAll(t, src, len(recs))
			for i := range got {
				got[i].Offset = uint64(i)
			}
			if tc.format == "lines" {
				for i := range got {
					got[i].Headers = nil
				}
			}
			sameRecords(t, got, recs)
			expectIdle(t, src)
		})
	}
}
