// Package connector is the SDK for writing Junction connectors: plugin
// binaries that move records between a station and an external system.
//
// A connector author declares a configuration struct once, writes a [Sink]
// or a [Source] (or both), and hands them to [Serve] in main:
//
//	func main() {
//		connector.Serve(connector.Definition{
//			Name:    "file",
//			Version: "1.0.0",
//			Sink:    connector.NewSink(newSink),
//		})
//	}
//
// The tagged config struct drives the connector's [Spec] (what `junction hub
// info` shows), decoding of the config the broker sends (defaults, durations
// such as "5s", sizes such as "64MiB") and validation, which reports every
// bad field at once with its dotted path. See [NewSink] for the tags.
//
// # Process model
//
// The broker's plugin host starts the binary with hashicorp/go-plugin and
// talks gRPC to it (the contract is sdk/proto/connector.proto). The host
// calls Spec, then Configure (which decodes the config and calls the factory
// given to NewSink or NewSource), then Open and the data calls. This
// package serves the plugin's side only. The values that cross the boundary
// (Record, Batch, Spec, the errors) are defined by package protocol, which
// the SDK and the host share, and re-exported here; a connector needs
// nothing else.
//
// # Errors
//
// Errors say what the host should do next and keep that meaning across the
// process boundary: wrap them with [Fatal], [Retryable], or return a
// [*BackoffError], [FieldErrors] or [*BatchError]; in the host,
// errors.Is(err, connector.ErrFatal) and errors.As(err, &backoff) work on what
// the protocol's client returns. Context cancellation and deadlines come back as
// context.Canceled and context.DeadlineExceeded.
//
// # Logging
//
// [Serve] logs as JSON to stderr, which go-plugin forwards into the broker's
// log under the connector's name. Use [Logger] with the ctx of a call, or
// slog.Default(), which Serve points at the same stream.
//
// The package connectortest holds the conformance suite every connector
// should run in its tests.
package connector
