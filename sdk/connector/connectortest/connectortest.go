// Package connectortest is the conformance suite every Junction connector
// runs in its tests, first-party or community:
//
//	func TestConformance(t *testing.T) {
//		connectortest.RunSink(t, definition(), func(t *testing.T) connectortest.SinkHarness {
//			dir := t.TempDir()
//			return connectortest.SinkHarness{
//				Config:   map[string]any{"dir": dir},
//				ReadBack: func() ([]connector.Record, error) { return readDir(dir) },
//			}
//		})
//	}
//
// The suite drives the connector through the real gRPC shims (over an
// in-memory connection), as the broker's plugin host does, and checks: the
// spec is valid; bad config (an unknown field, each required field missing)
// is rejected with field errors naming the field; records round-trip; a new
// instance resumes from its checkpoint without duplicates; no goroutines
// leak. SpecGolden keeps a connector's spec in a golden file.
package connectortest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/protocol"
)

// SinkHarness is what a sink's test provides for one subtest: a config
// pointing at a fresh, empty destination and a way to read it back.
type SinkHarness struct {
	// Config is a valid config for the sink.
	Config map[string]any
	// ReadBack returns every record durably in the destination, in any
	// order, with Partition and Offset set; Key, Value, Headers and
	// Timestamp must equal what was written.
	ReadBack func() ([]connector.Record, error)
}

// SourceHarness is what a source's test provides for one subtest: a config
// pointing at a fresh, empty origin and a way to put records into it.
type SourceHarness struct {
	// Config is a valid config for the source.
	Config map[string]any
	// Produce appends records to the origin. The suite compares the Values
	// the source reads, in order.
	Produce func(records []connector.Record) error
}

// Option adjusts the suite.
type Option func(*options)

type options struct {
	records int
	timeout time.Duration
	ignore  []string
}

// Records sets how many records the round trip writes (default 100).
func Records(n int) Option { return func(o *options) { o.records = n } }

// Timeout bounds each subtest (default 30s).
func Timeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// IgnoreGoroutines makes the leak check ignore goroutines running one of
// these functions anywhere in their stack (package path and name, as
// goleak prints them), for client libraries that leave a timed goroutine
// behind by design.
func IgnoreGoroutines(functions ...string) Option {
	return func(o *options) { o.ignore = append(o.ignore, functions...) }
}

func newOptions(opts []Option) options {
	o := options{records: 100, timeout: 30 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Instance is a plugin served over an in-memory gRPC connection, as a
// separate process would be, with the protocol's clients the host uses.
type Instance struct {
	Connector *protocol.ConnectorClient
	Sink      connector.Sink
	Source    connector.Source

	conn   *grpc.ClientConn
	server *grpc.Server
	cancel context.CancelFunc
}

// Start serves def and connects the host's clients to it; Close (run at
// test cleanup) stops both. It does not call Configure.
func Start(t testing.TB, def connector.Definition) *Instance {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(protocol.ServerOptions(0)...)
	for name, p := range connector.ServerPlugins(def, nil) {
		if err := p.(plugin.GRPCPlugin).GRPCServer(nil, srv); err != nil {
			t.Fatalf("register %s: %v", name, err)
		}
	}
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		append(protocol.DialOptions(0),
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		srv.Stop()
		t.Fatalf("dial: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	inst := &Instance{
		Connector: protocol.NewConnectorClient(conn),
		Sink:      protocol.NewSinkClient(conn),
		Source:    protocol.NewSourceClient(ctx, conn),
		conn:      conn, server: srv, cancel: cancel,
	}
	t.Cleanup(inst.Close)
	return inst
}

// Close drops the connection and stops the server without tearing the
// instance down, like a crashed process. It may be called more than once.
func (i *Instance) Close() {
	i.cancel()
	_ = i.conn.Close()
	i.server.Stop()
}

func checkSpec(t *testing.T, ctx context.Context, def connector.Definition, kind connector.Kind) connector.Spec {
	t.Helper()
	inst := Start(t, def)
	spec, err := inst.Connector.Spec(ctx)
	if err != nil {
		t.Fatalf("Spec: %v", err)
	}
	if err := spec.Validate(); err != nil {
		t.Errorf("spec is invalid: %v", err)
	}
	if spec.ProtocolVersion != connector.ProtocolVersion {
		t.Errorf("spec protocol version = %d, want %d", spec.ProtocolVersion, connector.ProtocolVersion)
	}
	if !slices.Contains(spec.Kinds, kind) {
		t.Errorf("spec kinds = %v, want %s among them", spec.Kinds, kind)
	}
	return spec
}

func checkBadConfig(t *testing.T, ctx context.Context, def connector.Definition, spec connector.Spec, kind connector.Kind, good map[string]any) {
	inst := Start(t, def)
	fes, err := inst.Connector.Configure(ctx, kind, "conformance", "conformance", good)
	if err != nil || len(fes) > 0 {
		t.Fatalf("valid config rejected: %v %v", fes, err)
	}
	bad := clone(good)
	bad["definitely_not_a_field"] = 1
	fes, err = inst.Connector.Configure(ctx, kind, "conformance", "conformance", bad)
	if err != nil {
		t.Fatalf("Configure with an unknown field: %v", err)
	}
	if !named(fes, "definitely_not_a_field") {
		t.Errorf("unknown field: got field errors %v, want one naming definitely_not_a_field", fes)
	}
	for _, f := range spec.Fields {
		if !f.Required || (len(f.Kinds) > 0 && !slices.Contains(f.Kinds, kind)) {
			continue
		}
		bad := clone(good)
		deletePath(bad, f.Name)
		fes, err := inst.Connector.Configure(ctx, kind, "conformance", "conformance", bad)
		if err != nil {
			t.Fatalf("Configure without %s: %v", f.Name, err)
		}
		if !named(fes, f.Name) {
			t.Errorf("missing required %s: got field errors %v, want one naming it", f.Name, fes)
		}
	}
}

func named(fes []connector.FieldError, field string) bool {
	for _, fe := range fes {
		if fe.Field == field {
			return true
		}
	}
	return false
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = clone(sub)
		}
		out[k] = v
	}
	return out
}

func deletePath(m map[string]any, path string) {
	for {
		head, rest, nested := cutDot(path)
		if !nested {
			delete(m, path)
			return
		}
		sub, ok := m[head].(map[string]any)
		if !ok {
			return
		}
		m, path = sub, rest
	}
}

func cutDot(s string) (string, string, bool) {
	if i := bytes.IndexByte([]byte(s), '.'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

func configure(t *testing.T, ctx context.Context, inst *Instance, kind connector.Kind, cfg map[string]any) {
	t.Helper()
	fes, err := inst.Connector.Configure(ctx, kind, "conformance", "conformance", cfg)
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	if len(fes) > 0 {
		t.Fatalf("Configure rejected the harness config: %v", fes)
	}
}

// testRecords makes n records over partitions, with values of every kind a
// connector must carry: JSON, text and binary.
func testRecords(n int, partitions uint32, firstOffset func(p uint32) uint64) []connector.Record {
	next := make(map[uint32]uint64)
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	out := make([]connector.Record, n)
	for i := range n {
		p := uint32(i) % partitions
		if _, ok := next[p]; !ok {
			next[p] = firstOffset(p)
		}
		var value []byte
		switch i % 3 {
		case 0:
			value = fmt.Appendf(nil, `{"n":%d,"s":"record %d"}`, i, i)
		case 1:
			value = fmt.Appendf(nil, "plain text %d, with \"quotes\" and ünïcode", i)
		default:
			value = []byte{0xff, 0xfe, byte(i), 0, '\n'}
		}
		r := connector.Record{
			Key:       fmt.Appendf(nil, "key-%d", i),
			Value:     value,
			Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			Partition: p,
			Offset:    next[p],
		}
		if i%4 == 0 {
			r.Headers = []connector.Header{{Key: "trace", Value: fmt.Appendf(nil, "t%d", i)}}
		}
		next[p]++
		out[i] = r
	}
	return out
}

func sameRecord(a, b connector.Record) bool {
	if !bytes.Equal(a.Key, b.Key) || !bytes.Equal(a.Value, b.Value) || !a.Timestamp.Equal(b.Timestamp) ||
		a.Partition != b.Partition || a.Offset != b.Offset || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || !bytes.Equal(a.Headers[i].Value, b.Headers[i].Value) {
			return false
		}
	}
	return true
}

func leakCheck(t *testing.T, o options) {
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	for _, f := range o.ignore {
		opts = append(opts, goleak.IgnoreAnyFunction(f))
	}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}
