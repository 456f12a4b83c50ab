// Package protocol is the connector protocol that a Junction connector
// plugin and the broker's plugin host speak: the values that cross the
// process boundary (records, batches, the spec, errors), the go-plugin
// handshake, and their encoding on the wire (sdk/proto/connector.proto plus
// the packed record encoding, the broker's record batches a sink may take
// instead (package recordbatch), on Linux placed in a memory region the
// host shares with the plugin instead of sent, error statuses, and spec
// and batch messages), with the gRPC clients that drive a plugin.
//
// Both sides import this one package, so they cannot drift apart. Connector
// authors do not need it: package connector re-exports the values and
// serves the plugin's side; the host's go-plugin glue lives with the host.
package protocol

import (
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Version is the connector protocol version. It is bumped on any
// incompatible change to sdk/proto/connector.proto or the encodings here.
const Version = 1

// DefaultMaxMessageBytes is the largest gRPC message either side accepts
// unless configured otherwise: a Write or a source batch must fit in it.
const DefaultMaxMessageBytes = 64 << 20

// Handshake is what the host and a plugin must agree on before talking. The
// cookie only keeps plugin binaries from being run by hand by mistake; it is
// not a security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  Version,
	MagicCookieKey:   "JUNCTION_CONNECTOR_PLUGIN",
	MagicCookieValue: "c0f3b7e2-5a61-4d8e-9b1f-7e4a2d96c851",
}

// Names under which go-plugin dispenses a plugin's services.
const (
	// PluginConnector is the Connector service (Spec, Configure).
	PluginConnector = "connector"
	// PluginSink is the Sink service.
	PluginSink = "sink"
	// PluginSource is the Source service.
	PluginSource = "source"
)

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
		grpc.ForceServerCodecV2(serverCodec{}),
	}
}
