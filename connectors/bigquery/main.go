// Command bigquery is Junction's Google BigQuery connector.
//
// As a sink it writes a station to a table through the BigQuery Storage
// Write API (never the legacy insertAll), either as JSON (metadata columns
// and a JSON value column) or with each top-level field of the records in
// its own typed column. As a source it polls a table (or a query) for rows
// past the last value of an ordering column, one record per row.
//
// # Exactly-once writes
//
// With delivery exactly_once the sink gives each station partition its own
// COMMITTED write stream and appends the partition's records at stream
// offsets, one row per record. Within a stream the mapping is
//
//	station offset after the stream's last row = base + rows + skipped
//
// where base is the station offset of the stream's row 0, rows what the
// stream holds and skipped how many station offsets in between have no row
// (records BigQuery rejected, values that do not fit their column, oversize
// rows, or gaps in the station). Where the mapping lives: in the streams
// table (streams_table, _junction_streams by default) of the dataset, a
// small append-only ledger written through its _default stream, with rows
// of three kinds per connector, station and partition:
//
//   - stream: a stream was given to the partition, with its epoch (one
//     more than the partition's previous highest) and its base. It is
//     written after the stream is created and before anything is
//     appended to it.
//   - skip: station offsets [offset, offset+count) have no row in the
//     stream. It is written before any row after them is appended, so a
//     stream never holds a row past an unrecorded gap. A rejected append
//     appends none of its rows; the sink records the rejected ones as
//     skipped and appends the rest again at the same stream offset.
//   - final: the stream was finalized holding count rows.
//
// A WriteStream reports no row count, so Open cannot ask BigQuery where a
// live stream ends; it fences instead. Open reads the ledger and, for each
// partition, finalizes every stream of the highest epoch that has no final
// row. FinalizeWriteStream returns the row count, and after it BigQuery
// refuses further appends to the stream, so a zombie process, or an append
// of the crashed run still in flight, can no longer add rows: either it
// landed before the finalize (and is counted) or it is refused. Open then
// reports base + rows + skipped per partition as durable, the host resumes
// each partition there, and the first append of the new run creates a new
// stream at the next epoch, based at that offset. Batch boundaries do not
// matter: offsets are per row, and records below a partition's next offset
// are dropped from a Write before encoding.
//
// Two instances racing (a zombie that is still running while the host
// started another) can both create a stream for the same epoch. After
// recording its stream, each reads the ledger back and proceeds only if
// its stream is the only one at that epoch and none is higher; the ledger
// is read with a query, which sees an append as soon as it is
// acknowledged, so at least one of them sees the other and gives up (possibly both, never neither), with a retryable
// error that makes the host reopen.
//
// Inside a run, an append BigQuery answers with OFFSET_ALREADY_EXISTS at
// the sink's own next offset is the client's retry of an append that had
// landed; it counts as written. Any other append failure (OUT_OF_RANGE, a
// dropped connection, a stream finalized by another instance) leaves the
// outcome unknown: the sink writes nothing more and fails the Write, the
// host restarts it, and Open learns exactly what landed by finalizing.
//
// Stream expiry: BigQuery may garbage-collect an idle stream. Appending to
// it then fails and the sink reopens; when Open cannot finalize a stream
// because it is gone, it falls back to one billed query for the highest
// offset the partition has in the table (every row carries its station,
// partition and offset).
//
// When evolve_schema adds columns, the partitions' streams are finalized
// (their row counts are known) and recorded, and new streams are opened
// with the new schema at the next epoch. Teardown finalizes and records
// every stream, so a clean restart needs no finalize call.
//
// Dead-lettering is at least once, not exactly once: rejected records at
// the end of a partition's batch are not recorded as skipped (the next
// row written records them), so after a restart they are rejected, and
// dead-lettered, again; and a record rejected in a Write that a crash
// interrupts before it returns may be recorded as skipped without ever
// reaching the dead-letter station (its rejection is logged when it
// happens). Deleting the streams table makes the sink write everything
// again.
//
// With delivery at_least_once the sink appends to the table's _default
// stream and keeps no ledger: a replay after a crash is written again.
//
// Run it with --spec to print its configuration fields.
package main

import "github.com/junctionhq/junction/sdk/connector"

func definition() connector.Definition {
	return connector.Definition{
		Name:        "bigquery",
		Version:     "1.0.0",
		Description: "Writes stations to Google BigQuery tables through the Storage Write API, exactly once; reads tables incrementally by an ordering column.",
		Author:      "Junction",
		License:     "Apache-2.0",
		Sink:        connector.NewSink(newSink),
		Source:      connector.NewSource(newSource),
		// Application default credentials, the metadata server's address,
		// and the proxy settings the Google libraries honour.
		Env: []string{"GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CONFIG",
			"GCE_METADATA_HOST", "GCE_METADATA_IP", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"},
	}
}

func main() {
	connector.Serve(definition())
}
