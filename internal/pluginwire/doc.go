// Package pluginwire is the host's side of the connector protocol: what the
// broker's plugin host and the hub need to talk to a plugin binary. The
// plugin's side lives in the sdk module (sdk/connector); the encoding both
// sides share lives there too, in sdk/protocol.
package pluginwire
