package recordbatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"github.com/junctionhq/junction/sdk/internal/golden"
	"hash/crc32"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func decodeAll(data []byte) ([]Record, error) {
	var out []Record
	err := Decode(data, func(r *Record) { out = append(out, *r) })
	return out, err
}

func TestDecodeGolden(t *testing.T) {
	const ts = 1700000000123456789
	want := []Record{
		{Offset: 100, Timestamp: ts, Key: []byte("k1"), Value: []byte("hello"),
			Headers: []Header{{Key: "content-type", Value: []byte("text/plain")}}},
		{Offset: 101, Timestamp: ts + 5, Value: []byte{}},
		{Offset: 102, Timestamp: ts - 3, Key: []byte{}, Headers: []Header{{Key: "a"}, {Key: "a", Value: []byte("2")}}},
		{Offset: 200, Timestamp: ts + 1000, Value: []byte("x")},
	}
	data := golden.RecordBatches(t)
	got, err := decodeAll(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
	}
	if n, err := Count(data); err != nil || n != len(want) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(want))
	}
	if re := encode(nil, 100, want[:3]); !bytes.Equal(re, data[:len(re)]) {
		t.Fatal("the test encoder disagrees with the golden file")
	}
}

// Every damaged byte the checksum covers, and every truncation, is refused.
func TestDecodeRefusesDamage(t *testing.T) {
	data := golden.RecordBatches(t)
	first := int(binary.BigEndian.Uint32(data[offLength:])) + lengthPrefix
	for i := offLength; i < first; i++ {
		bad := bytes.Clone(data)
		bad[i] ^= 0x10
		if _, err := decodeAll(bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("byte %d flipped: %v; want ErrCorrupt", i, err)
		}
	}
	for n := 1; n < len(data); n++ {
		if n == first {
			continue
		}
		_, err := decodeAll(data[:n])
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: %v; want ErrCorrupt", n, err)
		}
		if _, cerr := Count(data[:n]); cerr == nil && n < first {
			t.Fatalf("Count accepted a first batch truncated to %d bytes", n)
		}
	}
}

func TestDecodeRefusesUnknownVersion(t *testing.T) {
	data := encode(nil, 0, []Record{{Value: []byte("v")}})
	data[offMagic] = Version + 1
	binary.BigEndian.PutUint32(data[offCRC:], crc32.Checksum(data[offMagic:], castagnoli))
	_, err := decodeAll(data)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "unknown format version 2") {
		t.Fatalf("version 2: %v", err)
	}
}

// A huge record count in a small batch allocates nothing big.
func TestDecodeBoundsAllocation(t *testing.T) {
	data := encode(nil, 0, []Record{{Value: []byte("v")}})
	binary.BigEndian.PutUint32(data[offRecordCount:], 1<<31)
	if _, err := Count(data); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("count 2^31 in %d bytes: %v", len(data), err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := Decode(data, func(*Record) {})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("count 2^31: %v", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Fatalf("%d bytes allocated decoding a %d-byte batch", n, len(data))
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		n, cerr := Count(data)
		var recs []Record
		err := Decode(data, func(r *Record) { recs = append(recs, *r) })
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error is not ErrCorrupt: %v", err)
			}
			return
		}
		if cerr != nil || n != len(recs) {
			t.Fatalf("Decode read %d records, Count says %d, %v", len(recs), n, cerr)
		}
		// The format is canonical: what decodes re-encodes to the input.
		var re []byte
		for i := 0; i < len(recs); {
			k := batchCount(data[len(re):])
			re = encode(re, recs[i].Offset, recs[i:i+k])
			i += k
		}
		if !bytes.Equal(re, data) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", re, data)
		}
	})
}

func batchCount(b []byte) int { return int(binary.BigEndian.Uint32(b[offRecordCount:])) }

// encode is a reference encoder of version 1 batches, for the tests.
func encode(dst []byte, base uint64, recs []Record) []byte {
	start := len(dst)
	baseTS, maxTS := recs[0].Timestamp, recs[0].Timestamp
	for _, r := range recs {
		maxTS = max(maxTS, r.Timestamp)
	}
	dst = binary.BigEndian.AppendUint64(dst, base)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, Version, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(recs)))
	dst = binary.BigEndian.AppendUint64(dst, uint64(baseTS))
	dst = binary.BigEndian.AppendUint64(dst, uint64(maxTS))
	for i, r := range recs {
		dst = binary.AppendVarint(dst, int64(i))
		dst = binary.AppendVarint(dst, r.Timestamp-baseTS)
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

func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	return append(binary.AppendVarint(dst, int64(len(b))), b...)
}
