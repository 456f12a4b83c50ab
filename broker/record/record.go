// Package record is the broker's data model for one message as stored: its
// offset and timestamp (assigned once, by the writer of the entry, so that
// every replica agrees), key, value and headers. Storage (seglog), the
// PartitionLog seam, the broker and the API all speak it, so no layer
// exposes another's internal types.
package record

// Header is one message header. Keys may repeat.
type Header struct {
	Key   string
	Value []byte
}

// Record is one message of a partition's log.
type Record struct {
	// Offset is the record's position in its partition, assigned by the
	// log that first appends it.
	Offset uint64
	// Timestamp is in unix nanoseconds, stamped by the log that first
	// appends the record when the producer left it zero.
	Timestamp int64
	// Key and Value may be nil, which is preserved and distinct from empty.
	Key, Value []byte
	Headers    []Header
}
