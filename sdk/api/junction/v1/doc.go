// Package junctionv1 holds the protobuf messages of the public broker API,
// generated from api/junction/v1/junction.proto in the junction repository
// (make proto). It lives in the sdk module so that sdk/client needs nothing
// from the broker's module. Do not edit the generated files; change the
// .proto and regenerate.
package junctionv1
