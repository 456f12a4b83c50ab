package protocol

import (
	"encoding/binary"
	"errors"
	"time"
	"unsafe"
)

// AppendPacked appends records to dst in the packed encoding of the
// connector protocol (see SinkWriteRequest.packed_records).
func AppendPacked(dst []byte, records []Record) []byte {
	dst = AppendPackedCount(dst, len(records))
	for i := range records {
		r := &records[i]
		var ts int64
		if !r.Timestamp.IsZero() {
			ts = r.Timestamp.UnixNano()
		}
		dst = AppendPackedRecord(dst, r.Partition, r.Offset, ts, r.Key, r.Value, len(r.Headers))
		for _, h := range r.Headers {
			dst = AppendPackedHeader(dst, h.Key, h.Value)
		}
	}
	return dst
}

// AppendPackedCount, AppendPackedRecord and AppendPackedHeader build the
// packed encoding piece by piece, for a caller whose records are not
// Records: the count of records first, then each record followed by its
// headers. AppendPacked is the same over a []Record.
func AppendPackedCount(dst []byte, records int) []byte {
	return binary.AppendUvarint(dst, uint64(records))
}

// AppendPackedRecord appends one record without its headers (see
// AppendPackedCount); headers of them must follow. A nil key stays
// distinct from an empty one; timestamp 0 means none.
func AppendPackedRecord(dst []byte, partition uint32, offset uint64, timestampUnixNano int64, key, value []byte, headers int) []byte {
	dst = binary.AppendUvarint(dst, uint64(partition))
	dst = binary.AppendUvarint(dst, offset)
	dst = binary.AppendVarint(dst, timestampUnixNano)
	if key == nil {
		dst = binary.AppendUvarint(dst, 0)
	} else {
		dst = binary.AppendUvarint(dst, uint64(len(key))+1)
		dst = append(dst, key...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	dst = append(dst, value...)
	return binary.AppendUvarint(dst, uint64(headers))
}

// AppendPackedHeader appends one header of the record before it (see
// AppendPackedCount).
func AppendPackedHeader(dst []byte, key string, value []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	dst = binary.AppendUvarint(dst, uint64(len(value)))
	return append(dst, value...)
}

// PackedSize returns an upper bound of the packed size of records, for
// sizing the buffer given to AppendPacked.
func PackedSize(records []Record) int {
	n := binary.MaxVarintLen64
	for i := range records {
		r := &records[i]
		n += 3*binary.MaxVarintLen64 + len(r.Key) + len(r.Value) + 2*binary.MaxVarintLen32
		for _, h := range r.Headers {
			n += 2*binary.MaxVarintLen32 + len(h.Key) + len(h.Value)
		}
	}
	return n
}

var errPacked = errors.New("malformed packed records")

// DecodePacked decodes packed records; a malformed or truncated buffer is
// an error. Its count is checked against the buffer size before anything is
// allocated, so memory stays bounded by len(buf). Keys, values and header values
// alias buf, which the caller must not change afterwards.
func DecodePacked(buf []byte) ([]Record, error) {
	count, buf, ok := uvarint(buf)
	// Every record takes at least 5 bytes, which bounds a lying count.
	if !ok || count > uint64(len(buf))/5 {
		return nil, errPacked
	}
	out := make([]Record, 0, count)
	var headers []Header
	for len(buf) > 0 {
		var r Record
		var ok bool
		var v uint64
		if v, buf, ok = uvarint(buf); !ok || v > 1<<32-1 {
			return nil, errPacked
		}
		r.Partition = uint32(v)
		if r.Offset, buf, ok = uvarint(buf); !ok {
			return nil, errPacked
		}
		ts, n := binary.Varint(buf)
		if n <= 0 {
			return nil, errPacked
		}
		buf = buf[n:]
		if ts != 0 {
			r.Timestamp = time.Unix(0, ts).UTC()
		}
		if v, buf, ok = uvarint(buf); !ok || v > uint64(len(buf))+1 {
			return nil, errPacked
		}
		if v > 0 {
			r.Key, buf = buf[:v-1:v-1], buf[v-1:]
		}
		if r.Value, buf, ok = bytesField(buf); !ok {
			return nil, errPacked
		}
		var nh uint64
		if nh, buf, ok = uvarint(buf); !ok || nh > uint64(len(buf)) {
			return nil, errPacked
		}
		if nh > 0 {
			start := len(headers)
			for range nh {
				var k, val []byte
				if k, buf, ok = bytesField(buf); !ok {
					return nil, errPacked
				}
				if val, buf, ok = bytesField(buf); !ok {
					return nil, errPacked
				}
				headers = append(headers, Header{Key: unsafe.String(unsafe.SliceData(k), len(k)), Value: val})
			}
			r.Headers = headers[start:len(headers):len(headers)]
		}
		out = append(out, r)
	}
	if uint64(len(out)) != count {
		return nil, errPacked
	}
	return out, nil
}

func uvarint(buf []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(buf)
	if n <= 0 {
		return 0, buf, false
	}
	return v, buf[n:], true
}

func bytesField(buf []byte) ([]byte, []byte, bool) {
	n, buf, ok := uvarint(buf)
	if !ok || n > uint64(len(buf)) {
		return nil, buf, false
	}
	return buf[:n:n], buf[n:], true
}
