package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/junctionhq/junction/sdk/connector"
)

func isRetryable(err error) bool { return errors.Is(err, connector.ErrRetryable) }

func openErr(t *testing.T, kind connector.Kind, cfg map[string]any) error {
	t.Helper()
	ctx := context.Background()
	if kind == connector.KindSink {
		c, err := definition().Sink.Decode(cfg)
		if err != nil {
			t.Fatal(err)
		}
		snk, _ := newSink(c.(SinkConfig))
		_, err = snk.Open(ctx, connector.SinkInfo{Station: "st", Partitions: 1})
		_ = snk.Teardown(ctx)
		return err
	}
	c, err := definition().Source.Decode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := newSource(c.(SourceConfig))
	err = src.Open(ctx, nil)
	_ = src.Teardown(ctx)
	return err
}

func TestMissingBucketIsFatal(t *testing.T) {
	f := newFakeS3(t)
	for _, kind := range []connector.Kind{connector.KindSink, connector.KindSource} {
		cfg := f.config(map[string]any{"bucket": "no-such-bucket"})
		err := openErr(t, kind, cfg)
		if !errors.Is(err, connector.ErrFatal) || !strings.Contains(err.Error(), "no-such-bucket") || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("%s Open on a missing bucket = %v, want a fatal error naming the bucket", kind, err)
		}
	}
}

func TestBadCredentialsAreFatal(t *testing.T) {
	// gofakes3 does not check signatures: answer as S3 does.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.Header().Set("x-amz-error-code", "InvalidAccessKeyId")
		w.WriteHeader(http.StatusForbidden)
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>`))
		}
	}))
	defer srv.Close()
	f := &fakeS3{URL: srv.URL}
	for _, kind := range []connector.Kind{connector.KindSink, connector.KindSource} {
		err := openErr(t, kind, f.config(nil))
		if !errors.Is(err, connector.ErrFatal) || !strings.Contains(err.Error(), "access_key_id") {
			t.Errorf("%s Open with bad credentials = %v, want a fatal error about the credentials", kind, err)
		}
	}
	// Unlike HEAD, a GET or LIST says which credential problem it is.
	c, err := definition().Source.Decode(f.config(nil))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := newClient(context.Background(), c.(SourceConfig).store)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.close()
	_, err = cl.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &cl.bucket})
	err = classify(err)
	if !errors.Is(err, connector.ErrFatal) || !strings.Contains(err.Error(), "InvalidAccessKeyId") || !strings.Contains(err.Error(), "check access_key_id") {
		t.Errorf("LIST with bad credentials = %v, want a fatal InvalidAccessKeyId error", err)
	}
}

func TestUnreachableEndpointIsRetryable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	f := &fakeS3{URL: "http://" + addr}
	for _, kind := range []connector.Kind{connector.KindSink, connector.KindSource} {
		err := openErr(t, kind, f.config(map[string]any{"max_attempts": 1}))
		if !isRetryable(err) || errors.Is(err, connector.ErrFatal) || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("%s Open on an unreachable endpoint = %v, want a retryable error with the cause", kind, err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	f := newFakeS3(t)
	for _, tc := range []struct {
		kind  connector.Kind
		cfg   map[string]any
		field string
	}{
		{connector.KindSink, map[string]any{"key_template": "{station}/{first_offset}"}, "key_template"},
		{connector.KindSink, map[string]any{"format": "csv"}, "format"},
		{connector.KindSink, map[string]any{"upload": map[string]any{"part_size": "1MiB"}}, "upload.part_size"},
		{connector.KindSink, map[string]any{"endpoint": "minio:9000"}, "endpoint"},
		{connector.KindSink, map[string]any{"secret_access_key": ""}, "secret_access_key"},
		{connector.KindSource, map[string]any{"after_read": "move"}, "move_prefix"},
		{connector.KindSource, map[string]any{"after_read": "move", "prefix": "in/", "move_prefix": "in/done/"}, "move_prefix"},
		{connector.KindSource, map[string]any{"poll_interval": "0s"}, "poll_interval"},
	} {
		var err error
		if tc.kind == connector.KindSink {
			_, err = definition().Sink.Decode(f.config(tc.cfg))
		} else {
			_, err = definition().Source.Decode(f.config(tc.cfg))
		}
		var fes connector.FieldErrors
		if !errors.As(err, &fes) || !named(fes, tc.field) {
			t.Errorf("%s %v: %v, want a field error naming %s", tc.kind, tc.cfg, err, tc.field)
		}
	}
}

func named(fes connector.FieldErrors, field string) bool {
	for _, fe := range fes {
		if fe.Field == field {
			return true
		}
	}
	return false
}
