package seglog

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"iter"
)

// BatchBuilder encodes records one at a time into a batch for
// Log.EnqueueBuilt, so that a caller decoding a producer's request can
// write each record straight into the log's encoding: its key and value
// are copied once, from the request into the batch that is written. The
// records have no headers; each gets the timestamp of the EnqueueBuilt
// that queues it, as Enqueue stamps records whose timestamp is zero, and
// the batch is byte for byte what Enqueue would have encoded for them.
//
// The zero BatchBuilder is empty and ready to use. A BatchBuilder is not
// safe for concurrent use.
type BatchBuilder struct {
	buf      []byte // batch header (filled in by seal) and the records
	count    uint32
	payload  int  // bytes of keys and values
	largest  int  // bytes of the largest record's key and value
	withKeys bool // some record has a key
}

// recordOverhead bounds the bytes Add writes around a record's key and
// value: offset delta (at most 5 bytes below 2^31 records), timestamp
// delta (1), two lengths (5 each) and the header count (1).
const recordOverhead = 17

// Grow makes room for records more records with payload bytes of keys and
// values in all, so that adding them does not reallocate.
func (b *BatchBuilder) Grow(records, payload int) {
	n := recordOverhead*records + payload
	if len(b.buf) == 0 {
		n += batchHeaderSize
	}
	if cap(b.buf)-len(b.buf) < n {
		buf := make([]byte, len(b.buf), len(b.buf)+n)
		copy(buf, b.buf)
		b.buf = buf
	}
}

// Add appends a record with key and value, copying them. A nil key or
// value is stored as nil, an empty non-nil one as empty.
func (b *BatchBuilder) Add(key, value []byte) {
	if len(b.buf) == 0 {
		b.buf = append(b.buf, make([]byte, batchHeaderSize)...)
	}
	b.buf = binary.AppendVarint(b.buf, int64(b.count))
	b.buf = append(b.buf, 0) // timestamp delta: every record has the batch's
	b.buf = appendBytes(b.buf, key)
	b.buf = appendBytes(b.buf, value)
	b.buf = append(b.buf, 0) // no headers
	b.count++
	n := len(key) + len(value)
	b.payload += n
	b.largest = max(b.largest, n)
	b.withKeys = b.withKeys || key != nil
}

// Len returns the number of records added since the builder was last
// empty.
func (b *BatchBuilder) Len() int { return int(b.count) }

// PayloadBytes returns the bytes of the records' keys and values.
func (b *BatchBuilder) PayloadBytes() int { return b.payload }

// LargestRecord returns the bytes of the key and value of the largest
// record.
func (b *BatchBuilder) LargestRecord() int { return b.largest }

// HasKeys reports whether some record has a (non-nil) key.
func (b *BatchBuilder) HasKeys() bool { return b.withKeys }

// Reset empties the builder, keeping its buffer.
func (b *BatchBuilder) Reset() {
	b.buf = b.buf[:0]
	b.count, b.payload, b.largest, b.withKeys = 0, 0, 0, false
}

// Cap returns the capacity of the builder's buffer, for callers that
// bound what they keep.
func (b *BatchBuilder) Cap() int { return cap(b.buf) }

// All yields the key and value of every record added, in order; they
// alias the builder's buffer and are valid until it is next changed.
func (b *BatchBuilder) All() iter.Seq2[[]byte, []byte] {
	return func(yield func(key, value []byte) bool) {
		if b.count == 0 {
			return
		}
		d := decoder{b: b.buf, p: batchHeaderSize}
		for range b.count {
			d.varint() // offset delta
			d.varint() // timestamp delta
			key, value := d.bytes(), d.bytes()
			d.varint() // header count, always 0
			if d.err != nil {
				panic(fmt.Sprintf("seglog: BatchBuilder holds a malformed record: %v", d.err))
			}
			if !yield(key, value) {
				return
			}
		}
	}
}

// seal fills in the header of the built batch for timestamp now and
// returns the batch.
func (b *BatchBuilder) seal(now int64) []byte {
	buf := b.buf
	binary.BigEndian.PutUint64(buf[offBaseOffset:], 0)
	binary.BigEndian.PutUint32(buf[offLength:], uint32(len(buf)-lengthPrefix))
	buf[offMagic], buf[offAttributes] = batchMagic, 0
	binary.BigEndian.PutUint32(buf[offRecordCount:], b.count)
	binary.BigEndian.PutUint64(buf[offBaseTimestamp:], uint64(now))
	binary.BigEndian.PutUint64(buf[offMaxTimestamp:], uint64(now))
	binary.BigEndian.PutUint32(buf[offCRC:], crc32.Checksum(buf[offMagic:], castagnoli))
	return buf
}

// EnqueueBuilt is Enqueue for the records of b: it queues them as one
// batch stamped with the log's clock and returns without waiting. The log
// takes b's buffer instead of copying it, and leaves b empty with a buffer
// of its own to build the next batch in. On error b keeps its records.
func (l *Log) EnqueueBuilt(ctx context.Context, b *BatchBuilder) (*Pending, error) {
	if b.count == 0 {
		return nil, ErrEmptyAppend
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(b.buf) > maxBatchBytes {
		return nil, fmt.Errorf("seglog: batch of %d bytes exceeds the limit of %d", len(b.buf), maxBatchBytes)
	}
	now := l.now().UnixNano()
	r := reqPool.Get().(*appendReq)
	spare := r.buf[:0]
	r.buf = b.seal(now)
	r.count, r.baseTS, r.maxTS = b.count, now, now
	if err := l.enqueue(r); err != nil {
		r.buf = spare
		l.putReq(r)
		return nil, err
	}
	b.buf = spare
	b.Reset()
	return &Pending{l: l, r: r}, nil
}
