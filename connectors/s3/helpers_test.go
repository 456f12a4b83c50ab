package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/parquet-go/parquet-go"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/jsonl"
)

const testBucket = "junction-test"

// fakeS3 is an in-process S3 server (gofakes3, in memory) with a hook to
// inject faults into requests.
type fakeS3 struct {
	URL string
	srv *httptest.Server

	mu   sync.Mutex
	hook func(w http.ResponseWriter, r *http.Request) bool
}

func newFakeS3(t testing.TB) *fakeS3 {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	handler := gofakes3.New(backend).Server()
	f := &fakeS3{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		hook := f.hook
		f.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		handler.ServeHTTP(w, r)
	}))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// setHook makes hook see every request first; it returns true when it
// answered the request itself.
func (f *fakeS3) setHook(hook func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	f.hook = hook
	f.mu.Unlock()
}

// config is a connector config for the fake, merged with extra.
func (f *fakeS3) config(extra map[string]any) map[string]any {
	cfg := map[string]any{
		"bucket":            testBucket,
		"endpoint":          f.URL,
		"region":            "us-east-1",
		"force_path_style":  true,
		"access_key_id":     "test",
		"secret_access_key": "test",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

func (f *fakeS3) client(t testing.TB) *s3.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(f.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:   &http.Client{Transport: tr},
	})
}

func (f *fakeS3) put(t testing.TB, key string, body []byte) {
	t.Helper()
	_, err := f.client(t).PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: &key, Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func (f *fakeS3) get(t testing.TB, key string) []byte {
	t.Helper()
	out, err := f.client(t).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: &key})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b
}

// keys lists the bucket's keys under prefix.
func (f *fakeS3) keys(t testing.TB, prefix string) []string {
	t.Helper()
	var keys []string
	pages := s3.NewListObjectsV2Paginator(f.client(t), &s3.ListObjectsV2Input{Bucket: aws.String(testBucket), Prefix: &prefix})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// readBack decodes every object under prefix (any format the sink writes)
// with the SDK and returns the records, sorted by partition and offset.
// Records from lines objects have only a Value.
func (f *fakeS3) readBack(t testing.TB, prefix string) ([]connector.Record, error) {
	var out []connector.Record
	for _, key := range f.keys(t, prefix) {
		format, compression := detect(key)
		body := f.get(t, key)
		switch format {
		case "parquet":
			rows, err := parquet.Read[parquetRow](bytes.NewReader(body), int64(len(body)))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			for _, row := range rows {
				out = append(out, row.record())
			}
			continue
		}
		dec, err := decompressor(bytes.NewReader(body), compression)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		sc := bufio.NewScanner(dec)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			if format == "lines" {
				out = append(out, connector.Record{Value: bytes.Clone(sc.Bytes())})
				continue
			}
			r, err := jsonl.Decode(sc.Bytes())
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			out = append(out, r)
		}
		dec.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out, nil
}

// records makes n records over partitions with JSON, text and binary values,
// one millisecond apart from base.
func records(n int, partitions uint32, base time.Time) []connector.Record {
	next := make(map[uint32]uint64)
	out := make([]connector.Record, n)
	for i := range out {
		p := uint32(i) % partitions
		var v []byte
		switch i % 3 {
		case 0:
			v = fmt.Appendf(nil, `{"n":%d}`, i)
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

var base = time.Date(2026, 11, 25, 13, 4, 5, 0, time.UTC)

// sameRecords compares records by partition, offset, key, value, headers
// (without the source's s3-* headers) and timestamp.
func sameRecords(t *testing.T, got, want []connector.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Partition != w.Partition || g.Offset != w.Offset || !bytes.Equal(g.Key, w.Key) ||
			!bytes.Equal(g.Value, w.Value) || !g.Timestamp.Equal(w.Timestamp) || !sameHeaders(withoutS3(g.Headers), w.Headers) {
			t.Fatalf("record %d:\n got p%d@%d key=%q value=%q headers=%v ts=%s\nwant p%d@%d key=%q value=%q headers=%v ts=%s", i,
				g.Partition, g.Offset, g.Key, g.Value, g.Headers, g.Timestamp, w.Partition, w.Offset, w.Key, w.Value, w.Headers, w.Timestamp)
		}
	}
}

func sameHeaders(a, b []connector.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func withoutS3(hs []connector.Header) []connector.Header {
	var out []connector.Header
	for _, h := range hs {
		if !strings.HasPrefix(h.Key, "s3-") {
			out = append(out, h)
		}
	}
	return out
}

func headerOf(r connector.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// openSink decodes cfg as Configure would and opens a sink for station.
func openSink(t testing.TB, cfg map[string]any, station string, partitions uint32) (*sink, map[uint32]uint64) {
	t.Helper()
	c, err := definition().Sink.Decode(cfg)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	snk, err := newSink(c.(SinkConfig))
	if err != nil {
		t.Fatalf("newSink: %v", err)
	}
	durable, err := snk.Open(context.Background(), connector.SinkInfo{Station: station, Partitions: partitions})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return snk.(*sink), durable
}

// openSource decodes cfg as Configure would and opens a source at pos.
func openSource(t testing.TB, cfg map[string]any, pos connector.Position) *source {
	t.Helper()
	c, err := definition().Source.Decode(cfg)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	src, err := newSource(c.(SourceConfig))
	if err != nil {
		t.Fatalf("newSource: %v", err)
	}
	if err := src.Open(context.Background(), pos); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = src.Teardown(context.Background()) })
	return src.(*source)
}

// readAll reads until n records (and rejections) arrived.
func readAll(t testing.TB, src connector.Source, n int) ([]connector.Record, []connector.Rejected, []connector.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var recs []connector.Record
	var rejected []connector.Rejected
	var positions []connector.Position
	for len(recs)+len(rejected) < n {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("Read after %d of %d: %v", len(recs)+len(rejected), n, err)
		}
		recs = append(recs, b.Records...)
		rejected = append(rejected, b.Rejected...)
		positions = append(positions, b.Position)
	}
	return recs, rejected, positions
}

// expectIdle checks that Read returns nothing more for a while.
func expectIdle(t testing.TB, src connector.Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	b, err := src.Read(ctx)
	if err == nil {
		t.Fatalf("Read returned %d more records and %d rejections, want none", len(b.Records), len(b.Rejected))
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("idle Read: %v, want a deadline error", err)
	}
}
