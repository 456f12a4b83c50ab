package connector_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/connectortest"
)

// failingSink returns the error it was configured with from Write.
type failingSink struct {
	connector.UnimplementedSink
	err error
}

func (s *failingSink) Write(context.Context, []connector.Record) error { return s.err }

func TestErrorsRoundTrip(t *testing.T) {
	var next error
	def := connector.Definition{Name: "failing", Version: "0.1.0", Sink: connector.NewSink(func(struct{}) (connector.Sink, error) {
		return &failingSink{err: next}, nil
	})}
	ctx := context.Background()
	base := errors.New("boom")
	for _, tc := range []struct {
		name  string
		err   error
		check func(error) bool
	}{
		{"fatal", connector.Fatal(base), func(e error) bool { return errors.Is(e, connector.ErrFatal) }},
		{"fatal wrapping a status", connector.Fatal(fmt.Errorf("open: %w", status.Error(codes.PermissionDenied, "denied"))), func(e error) bool {
			return errors.Is(e, connector.ErrFatal)
		}},
		{"retryable", connector.Retryable(base), func(e error) bool { return errors.Is(e, connector.ErrRetryable) }},
		{"config", connector.FieldErrors{{Field: "x", Message: "bad"}}, func(e error) bool { return errors.Is(e, connector.ErrConfig) }},
		{"canceled", fmt.Errorf("write: %w", context.Canceled), func(e error) bool { return errors.Is(e, context.Canceled) }},
		{"deadline", context.DeadlineExceeded, func(e error) bool { return errors.Is(e, context.DeadlineExceeded) }},
		{"backoff", &connector.BackoffError{Err: base, Wait: 1500 * time.Millisecond}, func(e error) bool {
			var b *connector.BackoffError
			return errors.As(e, &b) && b.Wait == 1500*time.Millisecond && b.Err.Error() == "boom"
		}},
		{"batch", &connector.BatchError{Failed: map[int]error{1: base}}, func(e error) bool {
			var b *connector.BatchError
			return errors.As(e, &b) && len(b.Failed) == 1 && b.Failed[1].Error() == "boom"
		}},
		{"plain", base, func(e error) bool {
			return e != nil && !errors.Is(e, connector.ErrFatal) && errors.Unwrap(e) != nil && errors.Unwrap(e).Error() == "boom"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next = tc.err
			inst := connectortest.Start(t, def)
			if fes, err := inst.Connector.Configure(ctx, connector.KindSink, "st", "c", nil); err != nil || fes != nil {
				t.Fatalf("Configure: %v %v", fes, err)
			}
			err := inst.Sink.Write(ctx, []connector.Record{{Value: []byte("v")}, {Value: []byte("w")}})
			if !tc.check(err) {
				t.Errorf("Write error %#v (%v) lost its identity", err, err)
			}
		})
	}
}

func TestConfigureReportsFieldErrors(t *testing.T) {
	inst := connectortest.Start(t, connector.Definition{Name: "s", Version: "1.0.0", Sink: sampleFactory()})
	fes, err := inst.Connector.Configure(context.Background(), connector.KindSink, "st", "c",
		map[string]any{"rotate": map[string]any{"max_bytes": "lots"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fes) != 2 || fes[0].Field != "dir" || fes[1].Error() != `rotate.max_bytes: want a size such as 64MiB, got "lots"` {
		t.Errorf("field errors %v", fes)
	}
	_, err = inst.Connector.Configure(context.Background(), connector.KindSource, "st", "c", nil)
	if !errors.Is(err, connector.ErrFatal) {
		t.Errorf("configuring a kind the plugin lacks: %v, want ErrFatal", err)
	}
}
