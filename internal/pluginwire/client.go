package pluginwire

import (
	"context"
	"errors"
	"os/exec"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/protocol"
)

// The host's go-plugin plugins: each dispenses the protocol's client of one
// service. The plugin's side (GRPCServer) is the SDK's.
var (
	_ plugin.GRPCPlugin = (*connectorPlugin)(nil)
	_ plugin.GRPCPlugin = (*sinkPlugin)(nil)
	_ plugin.GRPCPlugin = (*sourcePlugin)(nil)
)

var errPluginSide = errors.New("pluginwire: the host does not serve connector services")

type connectorPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (connectorPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return errPluginSide }

func (connectorPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return protocol.NewConnectorClient(c), nil
}

type sinkPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (sinkPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return errPluginSide }

func (sinkPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return connector.Sink(protocol.NewSinkClient(c)), nil
}

type sourcePlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (sourcePlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return errPluginSide }

// GRPCClient's ctx is go-plugin's, cancelled when the plugin process exits;
// the Read stream runs under it.
func (sourcePlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return connector.Source(protocol.NewSourceClient(ctx, c)), nil
}

// Plugins returns the plugin set the host gives go-plugin. Dispense
// protocol.PluginConnector (a *protocol.ConnectorClient), PluginSink (a
// connector.Sink) or PluginSource (a connector.Source) from it.
func Plugins() plugin.PluginSet {
	return plugin.PluginSet{
		protocol.PluginConnector: connectorPlugin{},
		protocol.PluginSink:      sinkPlugin{},
		protocol.PluginSource:    sourcePlugin{},
	}
}

// ClientConfig returns the go-plugin client configuration to launch the
// plugin binary cmd: handshake, plugin set, gRPC only, messages up to
// protocol.DefaultMaxMessageBytes. logger receives the plugin's log lines
// (nil for go-plugin's default). The host may adjust the result
// (SecureConfig, StartTimeout, GRPCDialOptions via protocol.DialOptions)
// before plugin.NewClient.
func ClientConfig(cmd *exec.Cmd, logger hclog.Logger) *plugin.ClientConfig {
	return &plugin.ClientConfig{
		HandshakeConfig:  protocol.Handshake,
		Plugins:          Plugins(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  protocol.DialOptions(0),
		Logger:           logger,
	}
}
