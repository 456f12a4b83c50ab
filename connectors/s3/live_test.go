package main

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestLiveS3 runs a sink-to-source round trip against a real bucket. It
// needs JUNCTION_S3_LIVE_BUCKET and AWS credentials in the environment
// (AWS_ACCESS_KEY_ID or AWS_PROFILE); AWS_REGION and AWS_ENDPOINT_URL_S3
// are honoured. It writes under a fresh junction-live-test/ prefix and
// deletes what it wrote.
func TestLiveS3(t *testing.T) {
	bucket := os.Getenv("JUNCTION_S3_LIVE_BUCKET")
	if bucket == "" || os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		t.Skip("set JUNCTION_S3_LIVE_BUCKET and AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE) to run against real S3")
	}
	prefix := fmt.Sprintf("junction-live-test/%d/", time.Now().UnixNano())
	cfg := map[string]any{"bucket": bucket, "prefix": prefix, "region": os.Getenv("AWS_REGION"), "endpoint": os.Getenv("AWS_ENDPOINT_URL_S3")}
	recs := records(50, 2, base)
	snk, durable := openSink(t, cfg, "live", 2)
	if durable[0] != 0 || durable[1] != 0 {
		t.Fatalf("durable under a fresh prefix = %v", durable)
	}
	write(t, snk, recs)
	_, durable = openSink(t, cfg, "live", 2)
	if durable[0] != 25 || durable[1] != 25 {
		t.Errorf("durable after writing = %v, want 25 each", durable)
	}
	cfg["after_read"] = "delete"
	cfg["poll_interval"] = "1s"
	src := openSource(t, cfg, nil)
	got, _, positions := readAll(t, src, len(recs))
	if err := src.Ack(context.Background(), positions); err != nil {
		t.Fatal(err)
	}
	want := make(map[string]string)
	for _, r := range recs {
		want[string(r.Key)] = string(r.Value)
	}
	for _, r := range got {
		if v, ok := want[string(r.Key)]; !ok || v != string(r.Value) {
			t.Errorf("read key %q value %q, not what was written", r.Key, r.Value)
		}
		delete(want, string(r.Key))
	}
	if len(want) > 0 {
		t.Errorf("%d records written were not read back", len(want))
	}
}
