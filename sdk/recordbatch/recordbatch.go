// Package recordbatch decodes the record batches a Junction broker sends
// to consumers that ask for them (PullRequest.record_batches) and to
// connector sinks that take them (SinkWriteRequest.batches): the same
// bytes the broker stores in its segment log, so that it can hand them on
// without decoding or copying each message.
//
// # Wire format, version 1
//
// The data of a RecordBatches message holds one or more batches back to
// back. All integers
// are big-endian; varints are zig-zag signed varints as produced by
// encoding/binary.AppendVarint and always minimally encoded.
//
//	baseOffset     u64   offset of the batch's first record
//	length         u32   bytes that follow this field
//	crc            u32   CRC-32C (Castagnoli) of every byte after this field
//	magic          u8    format version, 1
//	attributes     u8    0 (reserved for compression)
//	recordCount    u32   at least 1
//	baseTimestamp  i64   timestamp of the first record (unix nanoseconds)
//	maxTimestamp   i64   largest record timestamp
//	records        recordCount times:
//	    offsetDelta    varint  index of the record in the batch
//	    timestampDelta varint  timestamp - baseTimestamp (0 for the first)
//	    keyLen         varint  -1 for a nil key
//	    key            keyLen bytes
//	    valueLen       varint  -1 for a nil value
//	    value          valueLen bytes
//	    headerCount    varint
//	    headers        headerCount times:
//	        keyLen   varint, key   bytes
//	        valueLen varint (-1 for nil), value bytes
//
// The fixed header is 38 bytes. A batch's records have consecutive offsets;
// consecutive batches need not be consecutive. A later format gets a new
// magic; this package refuses any it does not know. The golden file
// testdata/batch-v1.hex (hex, 32 bytes a line) is the reference encoding;
// the broker's encoder is tested against it (broker TestRecordBatchWireGolden,
// which -update-wire rewrites).
//
// The decoder treats its input as untrusted: every length is checked
// against what remains, every batch's checksum is verified before any of
// its records is handed out, and what it allocates is bounded by the size
// of the input.
package recordbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"unsafe"
)

// Version is the batch format version (the magic byte) this package decodes.
const Version = 1

// HeaderSize is the size of a batch's fixed header.
const HeaderSize = 38

const (
	offLength        = 8
	offCRC           = 12
	offMagic         = 16
	offAttributes    = 17
	offRecordCount   = 18
	offBaseTimestamp = 22
	offMaxTimestamp  = 30

	// lengthPrefix is the part of the header the length field does not count.
	lengthPrefix = 12
	// minRecordBytes is the smallest encoded record (five one-byte varints).
	minRecordBytes = 5
)

// ErrCorrupt is matched by every error of this package: the input is not a
// well-formed sequence of version 1 batches with intact checksums.
var ErrCorrupt = errors.New("corrupt record batch")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one decoded record. Key, Value, Headers' keys and values alias
// the decoded input, which must therefore not be modified afterwards.
type Record struct {
	Offset    uint64
	Timestamp int64 // unix nanoseconds
	Key       []byte
	Value     []byte
	Headers   []Header
}

// Count returns how many records the batches of data hold, checking their
// headers but not their checksums or records; Decode checks the rest. It is
// at most len(data)/5.
func Count(data []byte) (int, error) {
	n := 0
	for p := 0; p < len(data); {
		h, err := parseHeader(data[p:], p)
		if err != nil {
			return 0, err
		}
		n += int(h.count)
		p += h.size()
	}
	return n, nil
}

// Decode decodes the batches of data in order and calls fn with each
// record. A batch's checksum is verified before any of its records is
// passed on. On error, fn may already have seen the records of the batches
// before the bad one; a caller that must not act on partial input discards
// them. The *Record passed to fn is reused: fn copies what it keeps.
func Decode(data []byte, fn func(*Record)) error {
	var hdrs []Header
	var rec Record
	for p := 0; p < len(data); {
		h, err := parseHeader(data[p:], p)
		if err != nil {
			return err
		}
		b := data[p : p+h.size()]
		if got := crc32.Checksum(b[offMagic:], castagnoli); got != h.crc {
			return corruptf(p, "checksum %#08x, want %#08x", got, h.crc)
		}
		d := decoder{b: b, p: HeaderSize, at: p}
		maxTS := int64(math.MinInt64)
		for i := range int64(h.count) {
			if delta := d.varint(); d.err == nil && delta != i {
				d.fail("offset delta %d, want %d", delta, i)
			}
			tsDelta := d.varint()
			if d.err == nil && i == 0 && tsDelta != 0 {
				d.fail("first timestamp delta %d, want 0", tsDelta)
			}
			key := d.bytes()
			val := d.bytes()
			nh := d.varint()
			if d.err == nil && (nh < 0 || nh > int64(len(b)-d.p)/2) {
				d.fail("header count %d", nh)
			}
			if d.err != nil {
				return d.err
			}
			var rh []Header
			if nh > 0 {
				// One slab per batch for the headers of all its records;
				// nh is bounded by the bytes left, so is the slab.
				if cap(hdrs)-len(hdrs) < int(nh) {
					hdrs = make([]Header, 0, max(int(nh), min(int(h.count-uint32(i))*int(nh), (len(b)-d.p)/2)))
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
						return d.err
					}
					hdrs = append(hdrs, Header{Key: bytesToString(k), Value: v})
				}
				rh = hdrs[first:len(hdrs):len(hdrs)]
			}
			ts := h.baseTS + tsDelta
			maxTS = max(maxTS, ts)
			rec = Record{Offset: h.baseOffset + uint64(i), Timestamp: ts, Key: key, Value: val, Headers: rh}
			fn(&rec)
		}
		if d.p != len(b) {
			return corruptf(p, "%d trailing bytes", len(b)-d.p)
		}
		if maxTS != h.maxTS {
			return corruptf(p, "max timestamp %d, want %d", h.maxTS, maxTS)
		}
		p += len(b)
	}
	return nil
}

type header struct {
	baseOffset uint64
	length     uint32
	crc        uint32
	count      uint32
	baseTS     int64
	maxTS      int64
}

func (h *header) size() int { return lengthPrefix + int(h.length) }

// parseHeader checks the header of the batch at the start of buf (at byte
// pos of the input) and that buf holds all of the batch.
func parseHeader(buf []byte, pos int) (header, error) {
	if len(buf) < HeaderSize {
		return header{}, corruptf(pos, "short header: %d of %d bytes", len(buf), HeaderSize)
	}
	h := header{
		baseOffset: binary.BigEndian.Uint64(buf),
		length:     binary.BigEndian.Uint32(buf[offLength:]),
		crc:        binary.BigEndian.Uint32(buf[offCRC:]),
		count:      binary.BigEndian.Uint32(buf[offRecordCount:]),
		baseTS:     int64(binary.BigEndian.Uint64(buf[offBaseTimestamp:])),
		maxTS:      int64(binary.BigEndian.Uint64(buf[offMaxTimestamp:])),
	}
	switch {
	case buf[offMagic] != Version:
		return h, corruptf(pos, "unknown format version %d (this client reads %d)", buf[offMagic], Version)
	case buf[offAttributes] != 0:
		return h, corruptf(pos, "unknown attributes %#x", buf[offAttributes])
	case h.length < HeaderSize-lengthPrefix || uint64(h.length) > uint64(len(buf)-lengthPrefix):
		return h, corruptf(pos, "length %d does not fit the %d bytes left", h.length, len(buf)-lengthPrefix)
	case h.count == 0:
		return h, corruptf(pos, "no records")
	case uint64(h.count) > uint64(h.length)/minRecordBytes:
		return h, corruptf(pos, "record count %d too large for length %d", h.count, h.length)
	case h.baseOffset > math.MaxUint64-uint64(h.count):
		return h, corruptf(pos, "base offset %d overflows", h.baseOffset)
	}
	return h, nil
}

// bytesToString returns a string sharing b's memory; the input is never
// modified after decoding (see Record).
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// decoder reads minimal varints and byte strings of one batch; the first
// error sticks.
type decoder struct {
	b   []byte
	p   int
	at  int // position of the batch in the input
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = corruptf(d.at, "byte %d: "+format, append([]any{d.p}, args...)...)
	}
}

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
		d.fail("length %d past the end of the batch", n)
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

func corruptf(pos int, format string, args ...any) error {
	return fmt.Errorf("%w: batch at byte %d: %s", ErrCorrupt, pos, fmt.Sprintf(format, args...))
}
