package seglog

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"slices"
	"unsafe"
)

// Batch header layout; see the package documentation.
const (
	offBaseOffset    = 0
	offLength        = 8
	offCRC           = 12
	offMagic         = 16
	offAttributes    = 17
	offRecordCount   = 18
	offBaseTimestamp = 22
	offMaxTimestamp  = 30

	// batchHeaderSize is the size of the fixed batch header.
	batchHeaderSize = 38
	// lengthPrefix is the part of the header not counted by the length field.
	lengthPrefix = 12

	batchMagic = 1

	// maxBatchBytes bounds one encoded batch; larger Appends are rejected
	// and larger lengths on disk are treated as corruption.
	maxBatchBytes = 1 << 30
	// minRecordBytes is the smallest encoded record (five one-byte varints).
	minRecordBytes = 5
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EncodeBatch appends to dst the encoding of recs as one batch whose records
// get the offsets base, base+1, …; the records' own Offset fields are ignored
// and their Timestamps are stored as given. It returns the extended buffer.
func EncodeBatch(dst []byte, base uint64, recs []Record) []byte {
	return encodeBatch(dst, base, recs, 0)
}

// encodeBatch is EncodeBatch, storing now for records with a zero Timestamp.
func encodeBatch(dst []byte, base uint64, recs []Record, now int64) []byte {
	start := len(dst)
	size, baseTS, maxTS := batchLayout(recs, now)
	// Sized up front: growing a 1 MiB batch by appending copied and
	// allocated it several times over.
	dst = slices.Grow(dst, size)
	dst = binary.BigEndian.AppendUint64(dst, base)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, batchMagic, 0) // length, crc, magic, attributes
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(recs)))
	dst = binary.BigEndian.AppendUint64(dst, uint64(baseTS))
	dst = binary.BigEndian.AppendUint64(dst, uint64(maxTS))
	for i := range recs {
		r := &recs[i]
		ts := r.Timestamp
		if ts == 0 {
			ts = now
		}
		dst = binary.AppendVarint(dst, int64(i))
		dst = binary.AppendVarint(dst, ts-baseTS)
		dst = appendBytes(dst, r.Key)
		dst = appendBytes(dst, r.Value)
		dst = binary.AppendVarint(dst, int64(len(r.Headers)))
		for _, h := range r.Headers {
			dst = binary.AppendVarint(dst, int64(len(h.Key)))
			dst = append(dst, h.Key...)
			dst = appendBytes(dst, h.Value)
		}
	}
	b := dst[start:]
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-lengthPrefix))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offMagic:], castagnoli))
	return dst
}

// batchLayout returns the size of encodeBatch's encoding of recs and its
// base and max timestamps.
func batchLayout(recs []Record, now int64) (size int, baseTS, maxTS int64) {
	size = batchHeaderSize
	for i := range recs {
		r := &recs[i]
		ts := r.Timestamp
		if ts == 0 {
			ts = now
		}
		if i == 0 {
			baseTS, maxTS = ts, ts
		}
		maxTS = max(maxTS, ts)
		size += varintLen(int64(i)) + varintLen(ts-baseTS) + bytesLen(r.Key) + bytesLen(r.Value) + varintLen(int64(len(r.Headers)))
		for _, h := range r.Headers {
			size += varintLen(int64(len(h.Key))) + len(h.Key) + bytesLen(h.Value)
		}
	}
	return size, baseTS, maxTS
}

// varintLen is the size of binary.AppendVarint's encoding of x.
func varintLen(x int64) int {
	ux := uint64(x)<<1 ^ uint64(x>>63)
	return (bits.Len64(ux|1) + 6) / 7
}

// bytesLen is the size of appendBytes's encoding of b.
func bytesLen(b []byte) int {
	if b == nil {
		return varintLen(-1)
	}
	return varintLen(int64(len(b))) + len(b)
}

func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// batchHeader is the decoded fixed header of a batch.
type batchHeader struct {
	baseOffset uint64
	length     uint32 // bytes after the length field
	crc        uint32
	count      uint32
	baseTS     int64
	maxTS      int64
}

// size is the total encoded size of the batch.
func (h *batchHeader) size() int { return lengthPrefix + int(h.length) }

// nextOffset is one past the batch's last offset.
func (h *batchHeader) nextOffset() uint64 { return h.baseOffset + uint64(h.count) }

// parseHeader decodes and sanity-checks a batch header. It does not verify
// the CRC; buf must hold at least batchHeaderSize bytes.
func parseHeader(buf []byte) (batchHeader, error) {
	h := batchHeader{
		baseOffset: binary.BigEndian.Uint64(buf[offBaseOffset:]),
		length:     binary.BigEndian.Uint32(buf[offLength:]),
		crc:        binary.BigEndian.Uint32(buf[offCRC:]),
		count:      binary.BigEndian.Uint32(buf[offRecordCount:]),
		baseTS:     int64(binary.BigEndian.Uint64(buf[offBaseTimestamp:])),
		maxTS:      int64(binary.BigEndian.Uint64(buf[offMaxTimestamp:])),
	}
	switch {
	case h.length < batchHeaderSize-lengthPrefix || h.length > maxBatchBytes:
		return h, corruptf("batch length %d out of range", h.length)
	case buf[offMagic] != batchMagic:
		return h, corruptf("unknown batch magic %d", buf[offMagic])
	case buf[offAttributes] != 0:
		return h, corruptf("unknown batch attributes %#x", buf[offAttributes])
	case h.count == 0:
		return h, corruptf("empty batch")
	case uint64(h.count) > uint64(h.length)/minRecordBytes:
		return h, corruptf("record count %d too large for batch length %d", h.count, h.length)
	case h.baseOffset > math.MaxUint64-uint64(h.count):
		return h, corruptf("base offset %d overflows", h.baseOffset)
	}
	return h, nil
}

// PeekBatch checks the header of the batch at the start of buf and returns
// its base offset, its record count and the bytes it occupies, without
// decoding its records or verifying its checksum (DecodeBatch and
// Log.EnqueueBatch do). A header that cannot be a batch's, or a batch
// longer than buf, yields an error for which IsCorruption is true.
func PeekBatch(buf []byte) (base uint64, count uint32, size int, err error) {
	if len(buf) < batchHeaderSize {
		return 0, 0, 0, corruptf("batch of %d bytes is shorter than its header", len(buf))
	}
	h, err := parseHeader(buf)
	if err != nil {
		return 0, 0, 0, err
	}
	if h.size() > len(buf) {
		return 0, 0, 0, corruptf("batch header says %d bytes, got %d", h.size(), len(buf))
	}
	return h.baseOffset, h.count, h.size(), nil
}

// DecodeBatch decodes the batch at the start of buf and returns its records
// and the number of bytes it occupies. The records' Key, Value and header
// values alias buf. A truncated, malformed or checksum-failing batch yields an
// error for which IsCorruption is true. DecodeBatch never panics.
func DecodeBatch(buf []byte) (recs []Record, n int, err error) {
	recs, n, err = decodeBatchInto(buf, nil, 0)
	return recs, n, err
}

// decodeBatchInto decodes the batch at the start of buf, appending to recs
// the records whose offset is at least from.
func decodeBatchInto(buf []byte, recs []Record, from uint64) ([]Record, int, error) {
	if len(buf) < batchHeaderSize {
		return recs, 0, corruptf("short batch header: %d bytes", len(buf))
	}
	h, err := parseHeader(buf)
	if err != nil {
		return recs, 0, err
	}
	n := h.size()
	if len(buf) < n {
		return recs, 0, corruptf("short batch: %d of %d bytes", len(buf), n)
	}
	b := buf[:n]
	if got := crc32.Checksum(b[offMagic:], castagnoli); got != h.crc {
		return recs, 0, corruptf("batch at offset %d: crc %#08x, want %#08x", h.baseOffset, got, h.crc)
	}
	if recs == nil {
		recs = make([]Record, 0, h.count)
	} else {
		recs = growRecords(recs, int(h.count))
	}
	var hdrs []Header
	d := decoder{b: b, p: batchHeaderSize}
	maxTS := int64(math.MinInt64)
	for i := range int64(h.count) {
		delta := d.varint()
		if d.err == nil && delta != i {
			d.fail("offset delta %d, want %d", delta, i)
		}
		tsDelta := d.varint()
		key := d.bytes()
		val := d.bytes()
		nh := d.varint()
		if d.err == nil && (nh < 0 || nh > int64(len(b)-d.p)/2) {
			d.fail("header count %d", nh)
		}
		if d.err != nil {
			return recs, 0, d.err
		}
		var rh []Header
		if nh > 0 {
			if hdrs == nil {
				hdrs = make([]Header, 0, max(nh, int64(h.count)-i))
			}
			first := len(hdrs)
			for range nh {
				kl := d.varint()
				if d.err == nil && kl < 0 {
					d.fail("header key length %d", kl)
				}
				k := d.raw(kl)
				v := d.bytes()
				if d.err != nil {
					return recs, 0, d.err
				}
				hdrs = append(hdrs, Header{Key: bytesToString(k), Value: v})
			}
			rh = hdrs[first:len(hdrs):len(hdrs)]
		}
		ts := h.baseTS + tsDelta
		if i == 0 && tsDelta != 0 {
			return recs, 0, corruptf("first timestamp delta %d, want 0", tsDelta)
		}
		maxTS = max(maxTS, ts)
		off := h.baseOffset + uint64(i)
		if off >= from {
			recs = append(recs, Record{Offset: off, Timestamp: ts, Key: key, Value: val, Headers: rh})
		}
	}
	if d.p != n {
		return recs, 0, corruptf("%d trailing bytes in batch", n-d.p)
	}
	if maxTS != h.maxTS {
		return recs, 0, corruptf("max timestamp %d, want %d", h.maxTS, maxTS)
	}
	return recs, n, nil
}

func growRecords(recs []Record, n int) []Record {
	if cap(recs)-len(recs) >= n {
		return recs
	}
	return append(recs, make([]Record, n)...)[:len(recs)]
}

// bytesToString returns a string sharing b's memory. The decoded buffer is
// never modified after decoding, which makes this safe.
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// decoder reads canonical varints and byte strings; the first error sticks.
type decoder struct {
	b   []byte
	p   int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = corruptf("record at byte %d: "+format, append([]any{d.p}, args...)...)
	}
}

// varint reads a zig-zag varint, rejecting non-minimal encodings so that
// every decodable batch re-encodes to the same bytes.
func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	ux, n := binary.Uvarint(d.b[d.p:])
	if n <= 0 || (n > 1 && d.b[d.p+n-1] == 0) {
		d.fail("bad varint")
		return 0
	}
	d.p += n
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) raw(n int64) []byte {
	if d.err != nil {
		return nil
	}
	if n > int64(len(d.b)-d.p) {
		d.fail("length %d past end of batch", n)
		return nil
	}
	b := d.b[d.p : d.p+int(n) : d.p+int(n)]
	d.p += int(n)
	return b
}

// bytes reads a length-prefixed byte string; length -1 is nil.
func (d *decoder) bytes() []byte {
	n := d.varint()
	if d.err != nil {
		return nil
	}
	if n < -1 {
		d.fail("length %d", n)
		return nil
	}
	if n == -1 {
		return nil
	}
	return d.raw(n)
}

func corruptf(format string, args ...any) error {
	return &corruptionError{msg: fmt.Sprintf(format, args...)}
}
