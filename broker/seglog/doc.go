// Package seglog is the storage engine of one station partition: an
// append-only log of records kept in segment files with a sparse offset
// index and a CRC-32C (Castagnoli) checksum per record batch.
//
// # Writing
//
// [Log.Append] encodes its records as one batch in the caller's goroutine
// (so encoding and checksumming run in parallel) and queues it. A single
// writer goroutine (started by an Append, gone after a second without any)
// drains the queue, patches each batch's base offset (which
// the checksum deliberately does not cover), writes every pending batch with
// one write call, fsyncs once under [SyncAlways], and then completes all of
// them: a group commit. Records become visible to readers only after that, so
// under SyncAlways a consumer never sees a record a crash could lose. Under
// SyncAlways the fsync runs on a second goroutine, so the next group is
// written while the last one is being fsynced, and one fsync covers every
// group written during the one before (see syncer.go).
//
// Rolling to a new segment costs the writer one file creation; the old
// segment's index, the high-water mark and the directory entries are
// written and synced in the background, in the order recovery needs them
// (see roll.go).
//
// Under SyncInterval and SyncNever the writer starts write-back of every
// megabyte the active segment grows and waits for the megabyte before it, so a
// log never leaves more than a few megabytes dirty in the page cache for the
// kernel to flush at once behind other logs' fsyncs (see writebehind.go).
//
// Under [SyncDeferred] the log's owner keeps the records durable elsewhere
// and makes the log durable with [Log.Sync], which raises the high-water
// mark; write-behind works as under SyncInterval.
//
// A failed write is truncated away and fails only its appends. A failed fsync
// fails its appends and those written behind it, truncates the segment back
// to the last good fsync, and puts the log into a failed state in which
// every later Append returns the error; reopen the log to recover.
//
// # On-disk format
//
// A log directory holds segments named by their base offset as 20
// zero-padded decimal digits: 00000000000000000000.log with its sparse index
// 00000000000000000000.index. Other files are ignored. All integers are
// big-endian; varints are zig-zag signed varints as in
// encoding/binary.AppendVarint, always minimally encoded.
//
// A segment file is a sequence of batches:
//
//	baseOffset     u64   offset of the batch's first record
//	length         u32   bytes that follow this field
//	crc            u32   CRC-32C of every byte after this field
//	magic          u8    format version, 1
//	attributes     u8    0 (reserved for compression)
//	recordCount    u32   at least 1
//	baseTimestamp  i64   timestamp of the first record (unix nanoseconds)
//	maxTimestamp   i64   largest record timestamp
//	records        recordCount times:
//	    offsetDelta    varint  index of the record in the batch
//	    timestampDelta varint  timestamp - baseTimestamp
//	    keyLen         varint  -1 for a nil key
//	    key            keyLen bytes
//	    valueLen       varint  -1 for a nil value
//	    value          valueLen bytes
//	    headerCount    varint
//	    headers        headerCount times:
//	        keyLen   varint, key   bytes
//	        valueLen varint (-1 for nil), value bytes
//
// The fixed header is 38 bytes. Offsets are consecutive across batches and
// segments.
//
// An index file is a sequence of 8-byte entries, each
//
//	relativeOffset u32   batch base offset minus the segment's base offset
//	position       u32   byte position of that batch in the segment file
//
// with both fields strictly increasing. An entry is recorded for the first
// batch starting at least Options.IndexIntervalBytes after the previously
// indexed one; the first batch, at position 0, is implicit. The index of the
// active segment lives in memory and is written when the segment rolls.
//
// # Recovery
//
// [Open] verifies every batch of the last segment. Bad bytes with nothing
// intact after them are the torn last write, never fsynced: the file is
// truncated there, with a warning naming the segment, position and dropped
// byte count. Bad bytes followed by an intact batch (found by trying the
// bad batch's length, then every byte position) are corruption of data
// that was acknowledged: they are recorded as [Damage], reads of their
// offsets fail with a [*CorruptionError], the rest is served, and nothing is
// deleted until [Log.Repair] skips or cuts them. Older segments were
// fsynced when they rolled, so any bad batch in them is damage; they trust
// their index file if its size is well formed and its last entry points at
// a batch, otherwise the index is rebuilt from a verifying scan. The rest
// of a trusted index is read by the first read of its segment that needs
// it (and rebuilt then if it no longer decodes), so Open reads a few bytes
// per older segment however much the log retains. Their checksums are left
// to [Log.Scrub], and to reads, which record what they find.
//
// Under SyncDeferred, bad bytes of the tail segment at or above the
// high-water mark were never fsynced: they are cut with everything after
// them, intact batches included, for the owner to replay.
//
// Offsets are never reused. The state file state.json beside the segments
// holds a high-water mark, persisted (fsynced, replaced atomically) when a
// segment rolls and when the log closes ([CloseAll] persists the marks of
// many logs with two syncs of the filesystem), and the ranges Repair
// declared lost. After recovery the next offset is at least the high-water mark and
// Options.MinNextOffset; offsets below them that the log lacks are damage.
//
// The testdata directory holds golden files of the format; a format change
// shows up there as a diff (regenerate with go test -run Golden -update).
package seglog
