// Package junctionv1connect holds the connect-go clients and handlers of
// the public broker API, generated from junction.proto (make proto).
package junctionv1connect
