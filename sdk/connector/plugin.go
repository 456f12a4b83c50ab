package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/junctionhq/junction/sdk/proto/connectorv1"
	"github.com/junctionhq/junction/sdk/protocol"
)

var (
	_ plugin.GRPCPlugin = (*ConnectorPlugin)(nil)
	_ plugin.GRPCPlugin = (*SinkPlugin)(nil)
	_ plugin.GRPCPlugin = (*SourcePlugin)(nil)
)

// errHostSide is what the plugin side's GRPCClient methods return: the
// host's side of the wire lives with the host.
var errHostSide = errors.New("connector: the SDK serves the plugin's side only; hosts dispense clients from their own plugin set")

// ConnectorPlugin is the go-plugin plugin that serves a Definition's
// Connector service (Spec, Configure).
type ConnectorPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server
}

// GRPCServer registers the Connector service.
func (p *ConnectorPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterConnectorServer(s, connectorServer{s: p.srv})
	return nil
}

// GRPCClient fails: the host dispenses its own client.
func (p *ConnectorPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errHostSide
}

// SinkPlugin is the go-plugin plugin that serves the Sink service, driving
// the Sink that Configure built.
type SinkPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server
}

// GRPCServer registers the Sink service.
func (p *SinkPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterSinkServer(s, sinkServer{s: p.srv})
	return nil
}

// GRPCClient fails: the host dispenses its own client.
func (p *SinkPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errHostSide
}

// SourcePlugin is the go-plugin plugin that serves the Source service,
// driving the Source that Configure built.
type SourcePlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server
}

// GRPCServer registers the Source service.
func (p *SourcePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterSourceServer(s, sourceServer{s: p.srv})
	return nil
}

// GRPCClient fails: the host dispenses its own client.
func (p *SourcePlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errHostSide
}

// ServerPlugins returns the plugin set that serves def under the names of
// protocol.PluginConnector, PluginSink and PluginSource: the three plugins
// share one instance slot, which Configure fills. Serve uses it; tests and
// in-process hosts can register it on their own grpc.Server (made with
// protocol.ServerOptions) by calling GRPCServer on each plugin. log may be
// nil for slog.Default().
func ServerPlugins(def Definition, log *slog.Logger) plugin.PluginSet {
	return serverPlugins(newServer(def, log))
}

func serverPlugins(srv *server) plugin.PluginSet {
	return plugin.PluginSet{
		protocol.PluginConnector: &ConnectorPlugin{srv: srv},
		protocol.PluginSink:      &SinkPlugin{srv: srv},
		protocol.PluginSource:    &SourcePlugin{srv: srv},
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
// sends; the host must dial with at least as much (see
// protocol.DialOptions).
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
	srv := newServer(def, log)
	var err error
	if srv.shm, err = mapSharedMemory(); err != nil {
		log.Warn("record batches will arrive over gRPC", "err", err)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: protocol.Handshake,
		Plugins:         serverPlugins(srv),
		GRPCServer: func(so []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(so, protocol.ServerOptions(o.maxMessageBytes)...)...)
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
