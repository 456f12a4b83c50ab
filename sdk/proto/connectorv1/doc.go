// Package connectorv1 holds the gRPC messages and services of the
// connector protocol, generated from sdk/proto/connector.proto (make
// proto). Plugin authors use sdk/connector instead.
package connectorv1
