package main

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestLiveBigQuery runs the sink and the source against a real project.
// It needs BIGQUERY_PROJECT and a service account key file in
// GOOGLE_APPLICATION_CREDENTIALS (its account needs BigQuery Data Editor
// and Job User); BIGQUERY_DATASET (default junction_live_test, created
// when missing) and BIGQUERY_LOCATION (default US) are honoured. It writes
// to a fresh table and deletes it afterwards.
func TestLiveBigQuery(t *testing.T) {
	project := os.Getenv("BIGQUERY_PROJECT")
	if project == "" || liveCredentials == "" {
		t.Skip("set BIGQUERY_PROJECT and GOOGLE_APPLICATION_CREDENTIALS (a service account key file) to run against real BigQuery")
	}
	os.Unsetenv("GCE_METADATA_HOST")
	dataset := os.Getenv("BIGQUERY_DATASET")
	if dataset == "" {
		dataset = "junction_live_test"
	}
	location := os.Getenv("BIGQUERY_LOCATION")
	if location == "" {
		location = "US"
	}
	table := fmt.Sprintf("live_%d", time.Now().UnixNano())
	cfg := map[string]any{"project": project, "dataset": dataset, "table": table, "location": location, "credentials_file": liveCredentials}
	defer func() {
		cl, err := newClients(context.Background(), conn{Project: project, Dataset: dataset, Table: table, CredentialsFile: liveCredentials}, false)
		if err == nil {
			_ = cl.table.Delete(context.Background())
			cl.close()
		}
	}()

	recs := records(50, 1, 0)
	snk, durable := openSink(t, cfg, "live-"+table, 1)
	if durable[0] != 0 {
		t.Fatalf("durable on a new table = %v", durable)
	}
	write(t, snk, recs[:30])
	// A crash: the second run fences the first one's stream.
	again, durable := openSink(t, cfg, "live-"+table, 1)
	if durable[0] != 30 {
		t.Fatalf("durable after the first run = %v, want 30", durable)
	}
	write(t, again, recs[20:])
	if err := again.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}

	cfg["ordering_column"] = "offset"
	cfg["poll_interval"] = "1s"
	cfg["maximum_bytes_billed"] = "100MiB"
	src := openSource(t, cfg, nil)
	got, _ := readAll(t, src, 50)
	seen := map[string]bool{}
	for _, r := range got {
		if seen[string(r.Key)] {
			t.Fatalf("offset %s read twice", r.Key)
		}
		seen[string(r.Key)] = true
	}
	short, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if b, err := src.Read(short); err == nil && len(b.Records) > 0 {
		t.Fatalf("%d rows more than the 50 written", len(b.Records))
	}
}
