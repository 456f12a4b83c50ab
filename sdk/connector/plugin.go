package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/junctionhq/junction/sdk/proto/connectorv1"
)

// ProtocolVersion is the connector protocol version this SDK speaks. It is
// bumped on any incompatible change to sdk/proto/connector.proto.
const ProtocolVersion = 1

// DefaultMaxMessageBytes is the largest gRPC message either side accepts
// unless configured otherwise: a Write or a source batch must fit in it.
const DefaultMaxMessageBytes = 64 << 20

// Handshake is what the host and a plugin must agree on before talking. The
// cookie only keeps plugin binaries from being run by hand by mistake; it is
// not a security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "JUNCTION_CONNECTOR_PLUGIN",
	MagicCookieValue: "c0f3b7e2-5a61-4d8e-9b1f-7e4a2d96c851",
}

// Names under which the host dispenses a plugin's parts.
const (
	// PluginConnector dispenses a *ConnectorClient.
	PluginConnector = "connector"
	// PluginSink dispenses a Sink.
	PluginSink = "sink"
	// PluginSource dispenses a Source.
	PluginSource = "source"
)

var (
	_ plugin.GRPCPlugin = (*ConnectorPlugin)(nil)
	_ plugin.GRPCPlugin = (*SinkPlugin)(nil)
	_ plugin.GRPCPlugin = (*SourcePlugin)(nil)
)

// ConnectorPlugin is the go-plugin plugin for the Connector service: on the
// plugin side it serves the Definition, on the host side it gives a
// *ConnectorClient.
type ConnectorPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server
}

// GRPCServer registers the Connector service.
func (p *ConnectorPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterConnectorServer(s, connectorServer{s: p.srv})
	return nil
}

// GRPCClient returns a *ConnectorClient.
func (p *ConnectorPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &ConnectorClient{c: pb.NewConnectorClient(c)}, nil
}

// SinkPlugin is the go-plugin plugin for the Sink service: on the plugin
// side it serves the Sink that Configure built, on the host side it gives a
// Sink.
type SinkPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server
}

// GRPCServer registers the Sink service.
func (p *SinkPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterSinkServer(s, sinkServer{s: p.srv})
	return nil
}

// GRPCClient returns a Sink that calls the plugin.
func (p *SinkPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return Sink(&sinkClient{c: pb.NewSinkClient(c)}), nil
}

// SourcePlugin is the go-plugin plugin for the Source service: on the
// plugin side it serves the Source that Configure built, on the host side
// it gives a Source.
type SourcePlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server
}

// GRPCServer registers the Source service.
func (p *SourcePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterSourceServer(s, sourceServer{s: p.srv})
	return nil
}

// GRPCClient returns a Source that calls the plugin. ctx is go-plugin's,
// cancelled when the plugin process exits; the Read stream runs under it.
func (p *SourcePlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return Source(&sourceClient{c: pb.NewSourceClient(c), base: ctx}), nil
}

// ClientPlugins returns the plugin set the host gives go-plugin. Dispense
// PluginConnector, PluginSink or PluginSource from it.
func ClientPlugins() plugin.PluginSet {
	return ServerPlugins(Definition{}, nil)
}

// ServerPlugins returns the plugin set that serves def: the three plugins
// share one instance slot, which Configure fills. Serve uses it; tests and
// in-process hosts can register it on their own grpc.Server by calling
// GRPCServer on each plugin. log may be nil for slog.Default().
func ServerPlugins(def Definition, log *slog.Logger) plugin.PluginSet {
	srv := newServer(def, log)
	return plugin.PluginSet{
		PluginConnector: &ConnectorPlugin{srv: srv},
		PluginSink:      &SinkPlugin{srv: srv},
		PluginSource:    &SourcePlugin{srv: srv},
	}
}

// windowBytes is the HTTP/2 flow-control window between host and plugin.
const windowBytes = 16 << 20

// DialOptions returns the gRPC dial options a host needs to exchange
// messages up to maxBytes with a plugin (0 means DefaultMaxMessageBytes).
func DialOptions(maxBytes int) []grpc.DialOption {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxMessageBytes
	}
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxBytes), grpc.MaxCallSendMsgSize(maxBytes)),
		// Batches are megabytes: a window of gRPC's default 64 KiB would
		// cost a round trip per 64 KiB.
		grpc.WithInitialWindowSize(windowBytes),
		grpc.WithInitialConnWindowSize(windowBytes),
		grpc.WithWriteBufferSize(256 << 10),
		grpc.WithReadBufferSize(256 << 10),
	}
}

// ServerOptions returns the gRPC server options a plugin needs to exchange
// messages up to maxBytes with the host (0 means DefaultMaxMessageBytes).
func ServerOptions(maxBytes int) []grpc.ServerOption {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxMessageBytes
	}
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxBytes), grpc.MaxSendMsgSize(maxBytes),
		grpc.InitialWindowSize(windowBytes), grpc.InitialConnWindowSize(windowBytes),
		grpc.WriteBufferSize(256 << 10), grpc.ReadBufferSize(256 << 10),
	}
}

// ClientConfig returns the go-plugin client configuration to launch the
// plugin binary cmd: handshake, plugin set, gRPC only, messages up to
// DefaultMaxMessageBytes. logger receives the plugin's log lines (nil for
// go-plugin's default). The host may adjust the result (SecureConfig,
// StartTimeout, GRPCDialOptions via DialOptions) before plugin.NewClient.
func ClientConfig(cmd *exec.Cmd, logger hclog.Logger) *plugin.ClientConfig {
	return &plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          ClientPlugins(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  DialOptions(0),
		Logger:           logger,
	}
}

// ServeOption adjusts Serve.
type ServeOption func(*serveOptions)

type serveOptions struct {
	maxMessageBytes int
	stdout, stderr  io.Writer
	args            []string
}

// WithMaxMessageBytes sets the largest gRPC message the plugin accepts and
// sends; the host must dial with at least as much (see DialOptions).
func WithMaxMessageBytes(n int) ServeOption {
	return func(o *serveOptions) { o.maxMessageBytes = n }
}

// Serve runs the plugin: call it from main and nothing else. It blocks until
// the host stops the plugin. Run by hand with --spec, it prints the spec as
// JSON and exits. It logs JSON lines to stderr, which go-plugin forwards to
// the host, and points slog.Default there.
func Serve(def Definition, opts ...ServeOption) {
	os.Exit(serve(def, opts...))
}

func serve(def Definition, opts ...ServeOption) int {
	o := serveOptions{stdout: os.Stdout, stderr: os.Stderr, args: os.Args[1:]}
	for _, opt := range opts {
		opt(&o)
	}
	spec := def.Spec()
	for _, a := range o.args {
		if a == "--spec" || a == "-spec" {
			enc := json.NewEncoder(o.stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(spec); err != nil {
				fmt.Fprintf(o.stderr, "%s: write spec: %v\n", def.Name, err)
				return 1
			}
			return 0
		}
	}
	if err := spec.Validate(); err != nil {
		fmt.Fprintf(o.stderr, "%s: invalid connector definition: %v\n", def.Name, err)
		return 1
	}
	log := slog.New(NewLogHandler(o.stderr, slog.LevelDebug)).With("plugin", def.Name)
	slog.SetDefault(log)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         ServerPlugins(def, log),
		GRPCServer: func(so []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(so, ServerOptions(o.maxMessageBytes)...)...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: def.Name, Output: o.stderr, JSONFormat: true, Level: hclog.Info,
		}),
	})
	return 0
}

// NewLogHandler returns a slog handler writing the JSON lines go-plugin
// parses on a plugin's stderr (hclog's format), so the host logs them with
// their level and attributes.
func NewLogHandler(w io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				lvl := strings.ToLower(a.Value.String())
				if l, ok := a.Value.Any().(slog.Level); ok && l < slog.LevelDebug {
					lvl = "trace"
				}
				if i := strings.IndexAny(lvl, "+-"); i > 0 {
					lvl = lvl[:i]
				}
				return slog.String("@level", lvl)
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	})
}
