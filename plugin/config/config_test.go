package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestParseFull(t *testing.T) {
	src := `
name: orders-to-files
connector: file@^1.0
kind: sink
station: orders
batch: {max_records: 500, max_bytes: 1MiB, max_wait: 250ms}
dlq: orders-rejects
env:
  TZ: UTC
config:
  dir: /tmp/out
  token: ${TOKEN}
  region: ${REGION:-eu-west-1}
  price: $$5
  rotate:
    max_records: 1000
    compress: true
  globs: [a, b]
`
	c, err := Parse("c.yaml", []byte(src), env(map[string]string{"TOKEN": "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	want := &Connector{
		Name: "orders-to-files", Plugin: "file", Version: "^1.0", Kind: KindSink, Station: "orders",
		Batch: Batch{MaxRecords: 500, MaxBytes: 1 << 20, MaxWait: 250 * time.Millisecond}, Timeout: DefaultTimeout,
		DLQ: "orders-rejects", Env: map[string]string{"TZ": "UTC"},
		Config: map[string]any{
			"dir": "/tmp/out", "token": "s3cret", "region": "eu-west-1", "price": "$5",
			"rotate": map[string]any{"max_records": int64(1000), "compress": true},
			"globs":  []any{"a", "b"},
		},
		Templates: map[string]string{"region": "${REGION:-eu-west-1}", "token": "${TOKEN}"},
		File:      "c.yaml",
	}
	wantLines := map[string]int{"dir": 11, "token": 12, "region": 13, "price": 14, "rotate": 15, "rotate.max_records": 16, "rotate.compress": 17, "globs": 18}
	if !reflect.DeepEqual(c.ConfigLines, wantLines) {
		t.Errorf("config lines = %v, want %v", c.ConfigLines, wantLines)
	}
	c.ConfigLines = nil
	c.pos = nil
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("parsed\n%#v\nwant\n%#v", c, want)
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse("c.yaml", []byte("name: a\nconnector: file\nkind: source\nstation: s\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Batch != (Batch{DefaultMaxRecords, DefaultMaxBytes, DefaultMaxWait}) || c.Version != "" || c.DLQ != "a.dlq" || c.Timeout != DefaultTimeout {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestParseErrorsNameFileLineAndField(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"malformed yaml", "name: a\nkind: x\n  bad: 1\n", []string{"c.yaml:3:1: mapping values are not allowed"}},
		{"missing fields", "name: a\n", []string{"c.yaml:1:1: connector: required", "kind: required", "station: required"}},
		{"unknown field", "name: a\nconnector: file\nkind: sink\nstation: s\nstaton: x\n", []string{`c.yaml:5:1: staton: unknown field (did you mean "station"?)`}},
		{"bad kind", "name: a\nconnector: file\nkind: pipe\nstation: s\n", []string{`c.yaml:3:7: kind: want source or sink, got "pipe"`}},
		{"bad size", "name: a\nconnector: file\nkind: sink\nstation: s\nbatch:\n  max_bytes: lots\n", []string{`c.yaml:6:14: batch.max_bytes: want a size such as 8MiB, got "lots"`}},
		{"bad name", "name: a/b\nconnector: file\nkind: sink\nstation: s\n", []string{`c.yaml:1:7: name: "a/b" is not a valid name`}},
		{"missing env", "name: a\nconnector: file\nkind: sink\nstation: s\nconfig:\n  key: ${NOPE}\n", []string{"c.yaml:6:8: config.key: environment variable NOPE is not set"}},
		{"two documents", "name: a\n---\nname: b\n", []string{"more than one YAML document"}},
		{"empty", "", []string{"empty file"}},
		{"duplicate key", "name: a\nname: b\nconnector: f\nkind: sink\nstation: s\n", []string{"c.yaml:2:1: name: repeated (first at line 1)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.src), env(nil))
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v, want Errors", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("name: a\nconnector: file\nkind: sink\nstation: s\nconfig: {dir: ${D:-x}}\n"))
	f.Add([]byte("name: [\n"))
	f.Add([]byte("a: &x {b: *x}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data, env(map[string]string{"D": "d"}))
		if err == nil && (c.Name == "" || c.Station == "" || c.Plugin == "") {
			t.Fatalf("accepted a definition without required fields: %+v", c)
		}
		if es, ok := err.(Errors); ok {
			for _, e := range es {
				if e.Line <= 0 || e.Column <= 0 {
					t.Fatalf("error without a position: %q", e.Error())
				}
			}
		}
	})
}
