// Package cluster makes brokers the nodes of a cluster that replicates
// stations through hashicorp/raft, so that no acknowledged message is lost
// while a majority of nodes is up.
//
// A Node is the broker's Replicator. It runs ONE raft group, on its own
// TCP port, whose entries are:
//
//   - station changes (create, update, delete), applied on every node
//     through broker.ApplyStationChange;
//   - appends: one entry per produce batch of one partition, carrying the
//     records as a checksummed segment-log batch whose base offset is
//     where the leader expects it to land and whose timestamps the leader
//     stamped, so every node stores byte-identical records at the same
//     offsets;
//   - writes to the consumer group store (group records, committed
//     offsets and delivery counts, as the leader checkpoints them every
//     commit interval), applied on every node to its own metadata file:
//     the replicated store stands behind the broker's meta.GroupStore;
//   - members' API addresses, so a follower can name the leader to a
//     client;
//   - writes to the connector store (definitions, pause state, source
//     checkpoints), so a connector resumes from its checkpoint on
//     whichever node runs it next. WatchPlacement tells the connector host
//     when to reconcile (a leadership change, a connector change), and
//     RunsHere where a connector runs: on the leader, or on the node it is
//     pinned to, whose ConnectorBroker sends produces, group calls and
//     checkpoints to the leader's cluster port (forward.go);
//   - changes to the schema registry (schemas.go; attaching a station's
//     schema is a station change), applied through
//     broker.ApplySchemaChange;
//   - dead-letter replay progress (replay.go), so a replay resumes on
//     the next leader without producing a dead letter twice;
//   - writes to the auth store (auth.go): users with their grants and
//     password hashes, and tokens, hashed. Every node checks logins and
//     tokens against its own copy and reloads it as writes apply. A node
//     that joins or restarts is not CaughtUp until it has applied what
//     the leader had committed when it started (catchup.go); until then
//     the broker's auth refuses callers it cannot judge as catching up.
//     A token (or certificate user) a caught-up node does not know has
//     the node sync with the leader first (leadersync.go), so a token
//     minted on the leader authenticates on every node at once.
//
// Consumer groups live on the leader: a follower refuses pulls, acks and
// group changes with a NotLeaderError. A node that becomes leader rebuilds
// every group from the replicated store, so a group resumes where the
// previous leader last checkpointed it; what was delivered but not yet
// checkpointed is delivered again.
//
// Before a leader takes its first produce of a term it applies every
// entry of earlier terms (a raft barrier, through broker.Replicator's
// Writable), and every node files the message ids of what it applies in
// the station's dedup window: a produce whose outcome was unknown when a
// leader died is stored once when retried with its id on the next one.
//
// A produce on the leader is acknowledged when its entry committed (the
// raft log fsynced on a majority) and was applied to the leader's own
// segment log: written, visible to readers, not fsynced. The raft log is
// the durability; a node fsyncs each batch once, in the raft log, and
// makes its segment logs durable before raft may forget the entries
// behind them: a snapshot's Persist, and a Restore, sync every partition
// log up to the manifest's offsets first (durable.go; the broker opens a
// cluster node's logs under seglog.SyncDeferred). After a crash, a
// segment log's tail above its last sync may be short or torn, holes of
// zeros between intact batches included: it is cut there, not taken for
// damage, and raft replays the entries after the last snapshot, which
// re-fill it byte for byte. Bad bytes below the last sync are damage.
// Entries are applied in batches: all the appends of a batch are queued
// on their logs together, one write per log. A follower refuses changes
// with a broker.NotLeaderError naming the leader's API address; it serves
// reads of what it has applied. An append whose base offset is not its
// partition's next offset is not stored: that is a replay, after a
// restart, of an entry the broker's files already hold, or an entry
// proposed behind one that never committed (the leader then resyncs).
//
// The broker's own files are the state machine (raft's
// NoSnapshotRestoreOnStart): a snapshot is a manifest of the stations and
// every partition's next offset, the consumer group store, the
// connector store and replay progress, never a copy of the segments. A follower
// that must install one fetches the records it lacks from the leader's
// ClusterService.ReadPartition, on the leader's cluster port.
//
// A node verifies every partition's checksums before it takes part in
// raft, and watches for damage afterwards. A damaged node hands leadership
// over, has the leader demote it to a non-voter, rebuilds each damaged
// partition from the leader's copy (the damaged files move to
// DATA/quarantine, never deleted), and is made a voter again (repair.go).
// An operator's station repair on a member verifies the partition and
// waits for that rebuild (repair_member.go). A node whose partitions
// hold fewer records than its last snapshot (a crash after raft stored
// a snapshot the leader sent and before the records behind it were
// fetched) finds them before raft starts and, voting and leading no more
// than a damaged node, fetches what they lack from the leader, before
// it applies any later append to them (short.go); until then it takes
// no snapshot, whose offsets would hide what they lack.
//
// The cluster port (transport.go) carries raft and, told apart by their
// first byte, the calls nodes make to each other: AddNode (joining, and a
// repairing node's change of vote), ReadPartition (fetching records),
// Status (a catching-up node learning the leader's commit index) and a
// pinned connector's forwarded calls.
// With Config.TLS it is mutual TLS under the cluster CA. Tests reach nodes
// through proxies: Config.DialOverrides redirects this node's own dials of
// a member's cluster port.
//
// What this does not do yet: every station has as many replicas as the cluster
// has voters (Voters; a station's replicas setting may only be unset or
// that count when set, and RemoveNode refuses to leave fewer voters than
// a station's setting) and must use disk storage and fsync "always", which on a
// cluster means a produce is acknowledged once a majority fsynced it in
// the raft log (each node fsyncs its segment logs before raft forgets
// the entries); a damaged
// partition whose start was trimmed by retention is not rebuilt
// automatically; a station a node lacks entirely although its last
// snapshot names it (a crash in the middle of installing that snapshot)
// is created by the next snapshot the leader sends, not at start; an
// append that lands past a partition's end above the last snapshot's
// offsets is refused as before (the leader resyncs); a cluster of one
// short of its snapshot has nothing to fetch from: it refuses produces
// to the partition and takes no snapshot until an operator deletes the
// station or replaces the node's data; a follower whose
// API address changes across a restart is not re-registered until it
// leads; records fetched while installing a snapshot travel through
// ReadPartition, which does not tell a nil key or value from an empty
// one; there is one raft group for all partitions (the next step is one
// group per partition, or buckets of partitions, over one transport).
//
// The raft log is hashicorp/raft-wal (logstore.go), one fsync per batch
// of entries; a raft.db an earlier release left is copied into it once.
// Raft reads the latest entries back from memory (logcache.go, bounded in
// entries and bytes), not from the WAL: the leader to send them, every
// node to apply them.
//
// # Next step: the segment log as the raft log
//
// Every node still writes each produce batch twice, to the raft log and
// to the segment log (it fsyncs it once), and with several nodes on one
// disk the bytes written weigh on 1 KiB produces: profiled under
// r3-produce-1p at 1 KiB, the kernel's copies of those two writes into
// the page cache take about half of the leader's CPU and three fifths of
// a follower's, more than anything else. One write per replica
// needs the
// partition's segment log to be its raft log, which takes one raft group
// per partition (or per bucket of partitions with one segment log each),
// the scaling step above; with one group for all partitions the entries
// of every partition interleave in one log and a partition could not be
// read from it without an index of its own. The design, built whole or
// not at all:
//
//   - A LogStore per group over the partition's segment log: the batch
//     header gains the raft term and index (a new batch magic, so old
//     segments still read), StoreLogs appends the leader's batch bytes
//     as they came and fsyncs once, GetLog reads a batch back by index
//     through the sparse index (index and offset both grow by entry).
//     Non-append entries (station changes, group and auth writes) stay in
//     the metadata group, whose log remains raft-wal.
//   - The log holds uncommitted entries, so it gains a committed bound
//     apart from its written end: readers see up to the commit index,
//     which the FSM advances (applying becomes moving a number, with no
//     write), and a conflicting suffix that raft deletes (DeleteRange
//     from the tail) truncates the active segment.
//   - Compaction (DeleteRange from the head) becomes retention, never
//     past the last snapshot; a snapshot is the manifest already used,
//     and a follower behind it fetches segments as today.
//   - Recovery is raft's: a torn tail is the unsynced end of the raft
//     log, cut on open and re-sent by the leader; the high-water mark of
//     SyncDeferred goes away, since nothing is applied that is not in the
//     log itself.
//   - The leader's write and its followers' are one fsync each per batch
//     of entries, the same bytes on every replica by construction, and
//     the ack waits for commit alone.
package cluster
