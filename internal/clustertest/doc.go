// Package clustertest runs clusters of real junction processes on
// 127.0.0.1 and injects faults into them (SIGKILL of the leader or a
// follower, restarts), while concurrent producers log every outcome; a
// checker in the spirit of Jepsen's Kafka test then reads every partition
// on every node and verifies that no acknowledged message was lost, moved
// or duplicated and that the replicas agree byte for byte.
//
// The short scenarios run in the normal test suite; set
// JUNCTION_CLUSTER_LONG=1 (make test-cluster) for the 5-node and longer
// ones. It has no non-test code.
package clustertest
