package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/auth/credentials"
	bq "google.golang.org/api/bigquery/v2"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/connectortest"
)

// openErr configures and opens the kind through the plugin's gRPC shims,
// as the host does, so the error's kind is the one the host sees.
func openErr(t *testing.T, kind connector.Kind, cfg map[string]any) error {
	t.Helper()
	ctx := context.Background()
	inst := connectortest.Start(t, definition())
	fes, err := inst.Connector.Configure(ctx, kind, "orders", "to-bq", cfg)
	if err != nil || len(fes) > 0 {
		t.Fatalf("Configure: %v %v", fes, err)
	}
	if kind == connector.KindSink {
		_, err = inst.Sink.Open(ctx, connector.SinkInfo{Connector: "to-bq", Station: "orders", Partitions: 1})
		_ = inst.Sink.Teardown(ctx)
		return err
	}
	err = inst.Source.Open(ctx, nil)
	_ = inst.Source.Teardown(ctx)
	return err
}

func wantFatal(t *testing.T, what string, err error, words ...string) {
	t.Helper()
	if !errors.Is(err, connector.ErrFatal) {
		t.Errorf("%s: %v, want a fatal error", what, err)
		return
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %q does not say %q", what, err, w)
		}
	}
}

func TestMissingDatasetOrTable(t *testing.T) {
	f := newFakeBQ(t)
	err := openErr(t, connector.KindSink, f.config(map[string]any{"auto_create": false}))
	wantFatal(t, "sink on a missing dataset", err, "dataset junction-test.ds does not exist")
	f.createTable("ds", "other", &bq.TableSchema{}, nil)
	err = openErr(t, connector.KindSink, f.config(map[string]any{"auto_create": false}))
	wantFatal(t, "sink on a missing table", err, "table junction-test.ds.events does not exist")
	err = openErr(t, connector.KindSource, f.config(map[string]any{"ordering_column": "id"}))
	wantFatal(t, "source on a missing table", err, "table junction-test.ds.events does not exist")
}

func TestPermissionDeniedIsFatal(t *testing.T) {
	f := newFakeBQ(t)
	f.set(func(f *fakeBQ) { f.denied = true })
	wantFatal(t, "sink without permission", openErr(t, connector.KindSink, f.config(nil)), "Access Denied")
	wantFatal(t, "source without permission", openErr(t, connector.KindSource, f.config(map[string]any{"ordering_column": "id"})), "Access Denied")

	// Permission taken away while the sink runs.
	f.set(func(f *fakeBQ) { f.denied = false })
	snk, _ := openSink(t, f.config(nil), "to-bq", 1)
	defer snk.Teardown(context.Background())
	f.set(func(f *fakeBQ) { f.denied = true })
	err := snk.Write(context.Background(), records(3, 1, 0))
	wantFatal(t, "write without permission", err, "denied")
}

func TestSchemaMismatchIsFatal(t *testing.T) {
	f := newFakeBQ(t)
	schema := &bq.TableSchema{}
	for _, c := range jsonSchema() {
		typ := string(c.Type)
		if c.Name == colValue {
			typ = "STRING"
		}
		mode := "NULLABLE"
		if c.Required {
			mode = "REQUIRED"
		}
		if c.Repeated {
			mode = "REPEATED"
		}
		fs := &bq.TableFieldSchema{Name: c.Name, Type: typ, Mode: mode}
		for _, s := range c.Schema {
			fs.Fields = append(fs.Fields, &bq.TableFieldSchema{Name: s.Name, Type: string(s.Type)})
		}
		schema.Fields = append(schema.Fields, fs)
	}
	f.createTable("ds", "events", schema, nil)
	wantFatal(t, "sink on a table of another schema", openErr(t, connector.KindSink, f.config(nil)), "column value is STRING, want JSON")
}

func TestInvalidCredentialsFile(t *testing.T) {
	f := newFakeBQ(t)
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "key.txt")
	if err := os.WriteFile(notJSON, []byte("secret-material-that-must-not-leak"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongType := filepath.Join(dir, "wrong.json")
	if err := os.WriteFile(wrongType, []byte(`{"type":"api_key","key":"secret-material-that-must-not-leak"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, says string }{
		{filepath.Join(dir, "missing.json"), "no such file"},
		{notJSON, "is not a JSON credentials file"},
		{wrongType, `has type "api_key"`},
	} {
		// No endpoints: the file is refused before any connection.
		cfg := f.config(map[string]any{"credentials_file": tc.file, "without_authentication": false})
		delete(cfg, "endpoint")
		delete(cfg, "storage_endpoint")
		err := openErr(t, connector.KindSink, cfg)
		wantFatal(t, "credentials_file "+tc.file, err, tc.file, tc.says)
		if err != nil && strings.Contains(err.Error(), "secret-material") {
			t.Errorf("the error shows the file's content: %v", err)
		}
	}
}

// TestOversizeRowGoesToDeadLetter checks that a row larger than one
// append may carry is reported alone, the others written, and that after
// a restart nothing is written twice.
func TestOversizeRowGoesToDeadLetter(t *testing.T) {
	f := newFakeBQ(t)
	cfg := f.config(map[string]any{"append": map[string]any{"max_bytes": "1KiB"}})
	snk, _ := openSink(t, cfg, "to-bq", 1)
	recs := records(10, 1, 0)
	recs[4].Value = bytes.Repeat([]byte("x"), 2000)
	err := snk.Write(context.Background(), recs)
	var be *connector.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || be.Failed[4] == nil || !strings.Contains(be.Failed[4].Error(), "append.max_bytes") {
		t.Fatalf("Write = %v, want a BatchError for record 4 only", err)
	}
	// A crash, and a replay of everything.
	again, durable := openSink(t, cfg, "to-bq", 1)
	defer again.Teardown(context.Background())
	if durable[0] != 10 {
		t.Fatalf("durable after the crash = %v, want 10", durable)
	}
	_ = again.Write(context.Background(), recs)
	want := append(append([]connector.Record(nil), recs[:4]...), recs[5:]...)
	wantExactly(t, jsonRecords(f.rows("ds", "events")), want)
}

// TestRowErrorsGoToDeadLetter checks that rows BigQuery rejects come back
// with BigQuery's message, the rest of the append is written, and the
// skipped offsets keep a restart exactly once.
func TestRowErrorsGoToDeadLetter(t *testing.T) {
	for _, delivery := range []string{"exactly_once", "at_least_once"} {
		t.Run(delivery, func(t *testing.T) {
			f := newFakeBQ(t)
			f.set(func(f *fakeBQ) {
				f.rejectRow = func(table string, row map[string]any) string {
					if table == "ds.events" && (row[colOffset] == int64(3) || row[colOffset] == int64(7)) {
						return "Field value of timestamp is out of range"
					}
					return ""
				}
			})
			cfg := f.config(map[string]any{"delivery": delivery})
			snk, _ := openSink(t, cfg, "to-bq", 1)
			recs := records(10, 1, 0)
			err := snk.Write(context.Background(), recs)
			var be *connector.BatchError
			if !errors.As(err, &be) || len(be.Failed) != 2 || be.Failed[3] == nil || be.Failed[7] == nil {
				t.Fatalf("Write = %v, want a BatchError for records 3 and 7", err)
			}
			if !strings.Contains(be.Failed[3].Error(), "Field value of timestamp is out of range") {
				t.Errorf("the error does not carry BigQuery's message: %v", be.Failed[3])
			}
			want := append(append(append([]connector.Record(nil), recs[:3]...), recs[4:7]...), recs[8:]...)
			wantExactly(t, jsonRecords(f.rows("ds", "events")), want)
			if delivery == "at_least_once" {
				_ = snk.Teardown(context.Background())
				return
			}
			// A crash, then a replay with more records.
			again, durable := openSink(t, cfg, "to-bq", 1)
			defer again.Teardown(context.Background())
			if durable[0] != 10 {
				t.Fatalf("durable after the crash = %v, want 10", durable)
			}
			more := records(14, 1, 0)
			_ = again.Write(context.Background(), more[5:])
			want = append(want, more[10:]...)
			wantExactly(t, jsonRecords(f.rows("ds", "events")), want)
		})
	}
}

// TestAppendsStayUnderTheRequestLimit checks that a Write is split into
// AppendRows requests by append.max_bytes and append.max_rows.
func TestAppendsStayUnderTheRequestLimit(t *testing.T) {
	f := newFakeBQ(t)
	var sizes, counts []int
	f.set(func(f *fakeBQ) {
		f.onRequest = func(stream string, rows, bytes int) {
			if tableOf(stream) == "ds.events" {
				sizes, counts = append(sizes, bytes), append(counts, rows)
			}
		}
	})
	snk, _ := openSink(t, f.config(map[string]any{"append": map[string]any{"max_bytes": "64KiB", "max_rows": 100}}), "to-bq", 1)
	defer snk.Teardown(context.Background())
	recs := records(1000, 1, 0)
	for i := range recs {
		recs[i].Value = bytes.Repeat([]byte("y"), 1000)
	}
	write(t, snk, recs)
	if len(sizes) < 16 {
		t.Fatalf("%d append requests for 1 MB, want at least 16 of at most 64 KiB", len(sizes))
	}
	for i := range sizes {
		if sizes[i] > 64<<10 || counts[i] > 100 {
			t.Fatalf("append %d carried %d rows, %d bytes", i, counts[i], sizes[i])
		}
	}
	wantExactly(t, jsonRecords(f.rows("ds", "events")), recs)
}

// TestCredentialsOnlyGoToGoogle checks that a config cannot send
// credentials to an endpoint outside googleapis.com.
func TestCredentialsOnlyGoToGoogle(t *testing.T) {
	for _, cfg := range []map[string]any{
		{"endpoint": "https://evil.example/bigquery/v2/"},
		{"storage_endpoint": "evil.example:443"},
	} {
		cfg["project"], cfg["dataset"], cfg["table"] = "p-1", "d", "t"
		_, err := definition().Sink.Decode(cfg)
		if !errors.Is(err, connector.ErrConfig) || !strings.Contains(err.Error(), "needs without_authentication: true") {
			t.Errorf("%v: %v, want a config error", cfg, err)
		}
	}
	_, err := definition().Sink.Decode(map[string]any{"project": "p-1", "dataset": "d", "table": "t",
		"endpoint": "https://bigquery-psc.p.googleapis.com/bigquery/v2/", "storage_endpoint": "bigquerystorage-psc.p.googleapis.com:443"})
	if err != nil {
		t.Errorf("a Private Service Connect endpoint: %v", err)
	}
}

// TestRefusedCredentialsAreFatal gets a real token error from the auth
// library (a service account key whose token endpoint, on loopback,
// answers invalid_grant as Google does for a deleted key) and checks that
// it is fatal.
func TestRefusedCredentialsAreFatal(t *testing.T) {
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`))
	}))
	defer tokenSrv.Close()
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(pk)
	key, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": testProject, "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "sink@" + testProject + ".iam.gserviceaccount.com", "client_id": "1",
		"token_uri": tokenSrv.URL + "/token",
	})
	creds, err := credentials.DetectDefault(&credentials.DetectOptions{CredentialsJSON: key, Scopes: []string{"https://www.googleapis.com/auth/bigquery"}, UseSelfSignedJWT: false})
	if err != nil {
		t.Fatal(err)
	}
	_, err = creds.Token(context.Background())
	if err == nil {
		t.Fatal("the token endpoint's refusal did not come back")
	}
	if got := classify(fmt.Errorf("read dataset: %w", err)); !errors.Is(got, connector.ErrFatal) {
		t.Errorf("classify(%v) is not fatal", err)
	}
	// The same through the REST client, as Open meets it (the config
	// check that keeps credentials off non-Google endpoints is bypassed).
	f := newFakeBQ(t)
	cl, err := newClients(context.Background(), conn{Project: testProject, Dataset: "ds", Table: "events", CredentialsJSON: string(key), Endpoint: f.rest.URL + "/bigquery/v2/"}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.close()
	_, err = cl.table.Metadata(context.Background())
	if got := classify(err); !errors.Is(got, connector.ErrFatal) || !strings.Contains(got.Error(), "invalid_grant") {
		t.Errorf("a refused key through the client: %v, want a fatal error saying invalid_grant", got)
	}
}
