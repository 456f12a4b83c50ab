// Package junctionv1 holds the protobuf messages of the public broker API,
// generated from junction.proto (make proto). Do not edit the generated
// files; change the .proto and regenerate.
package junctionv1
