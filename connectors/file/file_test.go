package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/connectortest"
	"github.com/junctionhq/junction/sdk/connector/jsonl"
)

func readDir(dir string) ([]connector.Record, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.jsonl*"))
	if err != nil {
		return nil, err
	}
	var out []connector.Record
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			r, err := jsonl.Decode(sc.Bytes())
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func TestSinkConformance(t *testing.T) {
	connectortest.RunSink(t, definition(), func(t *testing.T) connectortest.SinkHarness {
		dir := t.TempDir()
		return connectortest.SinkHarness{
			Config:   map[string]any{"dir": dir, "rotate": map[string]any{"max_records": 9}},
			ReadBack: func() ([]connector.Record, error) { return readDir(dir) },
		}
	})
}

func TestSourceConformance(t *testing.T) {
	connectortest.RunSource(t, definition(), func(t *testing.T) connectortest.SourceHarness {
		dir := t.TempDir()
		return connectortest.SourceHarness{
			Config: map[string]any{"glob": filepath.Join(dir, "*.jsonl"), "poll_interval": "10ms", "batch": map[string]any{"max_records": 7}},
			Produce: func(recs []connector.Record) error {
				return appendRecords(filepath.Join(dir, "in.jsonl"), recs)
			},
		}
	})
}

func appendRecords(path string, recs []connector.Record) error {
	var buf []byte
	for _, r := range recs {
		b, err := jsonl.Encode("", r)
		if err != nil {
			return err
		}
		buf = append(buf, b...)
	}
	return appendFile(path, buf)
}

func appendFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}

func records(p uint32, from, to uint64) []connector.Record {
	var out []connector.Record
	for o := from; o < to; o++ {
		out = append(out, connector.Record{
			Value: []byte(`{"o":` + strconv.FormatUint(o, 10) + `}`), Partition: p, Offset: o,
			Timestamp: time.Date(2025, 1, 1, 0, 0, int(o), 0, time.UTC),
		})
	}
	return out
}

func openSink(t *testing.T, cfg SinkConfig) (*sink, map[uint32]uint64) {
	t.Helper()
	s, err := newSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	durable, err := s.Open(context.Background(), connector.SinkInfo{Station: "orders", Partitions: 1})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s.(*sink), durable
}

func sinkConfig(dir string) SinkConfig {
	var c SinkConfig
	c.Dir = dir
	c.Rotate.MaxBytes = 64 * connector.MiB
	return c
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestSinkRotationNames(t *testing.T) {
	dir := t.TempDir()
	cfg := sinkConfig(dir)
	cfg.Prefix = "x-"
	cfg.Rotate.MaxRecords = 4
	s, _ := openSink(t, cfg)
	ctx := context.Background()
	if err := s.Write(ctx, records(0, 0, 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"x-orders-p0-00000000000000000000-00000000000000000003.jsonl",
		"x-orders-p0-00000000000000000004-00000000000000000007.jsonl",
		"x-orders-p0-00000000000000000008.jsonl.partial",
	}
	if got := listDir(t, dir); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSinkRotationInterval(t *testing.T) {
	dir := t.TempDir()
	cfg := sinkConfig(dir)
	cfg.Rotate.Interval = 5 * time.Second // records are 1s apart
	s, _ := openSink(t, cfg)
	if err := s.Write(context.Background(), records(0, 0, 12)); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"orders-p0-00000000000000000000-00000000000000000004.jsonl",
		"orders-p0-00000000000000000005-00000000000000000009.jsonl",
		"orders-p0-00000000000000000010.jsonl.partial",
	}
	if got := listDir(t, dir); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A crash (no Teardown) mid-file, a torn last line, then a replay of an
// overlapping range: every record ends up exactly once.
func TestSinkCrashReplayExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := sinkConfig(dir)
	cfg.Rotate.MaxRecords = 8
	ctx := context.Background()
	s, _ := openSink(t, cfg)
	if err := s.Write(ctx, records(0, 0, 13)); err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(dir, "orders-p0-00000000000000000008.jsonl.partial")
	if err := appendFile(partial, []byte(`{"station":"orders","partition":0,"offset":13,"val`)); err != nil {
		t.Fatal(err)
	}
	// The crashed instance is abandoned, not torn down.

	s2, durable := openSink(t, cfg)
	if durable[0] != 13 {
		t.Fatalf("durable after crash = %v, want p0 at 13", durable)
	}
	data, err := os.ReadFile(partial)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(data, []byte("}\n")) {
		t.Errorf("torn line not truncated: ...%q", data[max(0, len(data)-40):])
	}
	if err := s2.Write(ctx, records(0, 5, 20)); err != nil {
		t.Fatal(err)
	}
	if err := s2.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := readDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[uint64]int)
	for _, r := range got {
		seen[r.Offset]++
	}
	for o := uint64(0); o < 20; o++ {
		if seen[o] != 1 {
			t.Errorf("offset %d written %d times", o, seen[o])
		}
	}
	if len(got) != 20 {
		t.Errorf("%d records, want 20", len(got))
	}
}

func openSource(t *testing.T, glob, format string, pos connector.Position) *source {
	t.Helper()
	var c SourceConfig
	c.Glob, c.Format, c.PollInterval, c.Batch.MaxRecords = glob, format, 5*time.Millisecond, 100
	s, _ := newSource(c)
	if err := s.Open(context.Background(), pos); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Teardown(context.Background()) })
	return s.(*source)
}

func read(t *testing.T, s *source) connector.Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := s.Read(ctx)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return b
}

func values(b connector.Batch) string {
	var vs []string
	for _, r := range b.Records {
		vs = append(vs, string(r.Value))
	}
	return strings.Join(vs, ",")
}

func TestSourceFollowsAppendsAndResumes(t *testing.T) {
	dir := t.TempDir()
	glob := filepath.Join(dir, "*.log")
	a := filepath.Join(dir, "a.log")
	if err := appendFile(a, []byte("one\ntwo\nthr")); err != nil {
		t.Fatal(err)
	}
	s := openSource(t, glob, "lines", nil)
	if got := values(read(t, s)); got != "one,two" {
		t.Fatalf("first batch %q, want one,two (the incomplete line waits)", got)
	}
	if err := appendFile(a, []byte("ee\n")); err != nil {
		t.Fatal(err)
	}
	b := read(t, s)
	if got := values(b); got != "three" {
		t.Fatalf("after append %q, want three", got)
	}
	if err := appendFile(filepath.Join(dir, "b.log"), []byte("four\nfive\n")); err != nil {
		t.Fatal(err)
	}
	s2 := openSource(t, glob, "lines", b.Position)
	if got := values(read(t, s2)); got != "four,five" {
		t.Fatalf("resumed at %s: %q, want four,five", b.Position, got)
	}
}

func TestSourceRejectsBadJSONL(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.jsonl")
	if err := appendFile(path, []byte("{\"value\":1}\nnot json\n[1,2]\n{\"other\":true}\n")); err != nil {
		t.Fatal(err)
	}
	b := read(t, openSource(t, path, "jsonl", nil))
	if got := values(b); got != `1,{"other":true}` {
		t.Errorf("records %q", got)
	}
	if len(b.Rejected) != 2 {
		t.Fatalf("rejected %d, want 2", len(b.Rejected))
	}
	for i, line := range []string{"line 2", "line 3"} {
		if r := b.Rejected[i].Reason; !strings.Contains(r, path) || !strings.Contains(r, line) {
			t.Errorf("rejected[%d] reason %q, want file and %s", i, r, line)
		}
	}
}
