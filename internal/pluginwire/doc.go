// Package pluginwire is the host's side of the connector protocol: the
// go-plugin configuration and plugin set that launch a plugin binary and
// dispense the protocol's clients, and ReadSpec for a binary's --spec. The
// broker's plugin host and the hub use it. The plugin's side lives in the
// sdk module (sdk/connector); the values, encoding and gRPC clients both
// sides share live there too, in sdk/protocol.
package pluginwire
