// Package plugin is the connector host: it finds connector plugin binaries,
// launches them as separate processes over hashicorp/go-plugin, and runs
// every connector declared by a definition file (see plugin/config):
//
//   - a sink is consumer group "connector.<name>" on its station: the host
//     pulls a batch, calls Write, and acks only once Write returned, so
//     delivery is at least once, and exactly once when the sink reports the
//     offsets its destination already holds (Open) and writes idempotently.
//     The batch goes to a plugin as the record batches the station's log
//     stores, without decoding or re-encoding a record, when the plugin's
//     Open says it takes them (every plugin of this SDK), and is acked by
//     offset range. A plugin that orders writes (every plugin of this SDK)
//     gets the next batch while it writes this one; acks stay in order and
//     stop at a failed write, after which the plugin writes nothing more;
//   - a source's batches are produced to its station and its position is
//     checkpointed in the metadata store only once they are durable there.
//
// A plugin that crashes, hangs past the connector's timeout, or fails is
// restarted with exponential backoff until it fails too often within a
// window or reports a fatal error; its log lines are forwarded into the
// broker's log tagged with the connector's name. Records a connector
// rejects go to the connector's dead-letter station and the pipeline moves
// on.
//
// Lock order: Host.mu, then runner.mu.
package plugin
