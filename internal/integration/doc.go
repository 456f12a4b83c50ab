// Package integration holds tests that drive the sdk module's client against
// a real broker from this module; the sdk module itself cannot import the
// broker.
package integration
