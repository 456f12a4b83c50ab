package protocol

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var updatePacked = flag.Bool("update-packed", false, "rewrite testdata/packed.golden")

// TestPackedGolden pins the packed encoding: plugins built against
// earlier SDKs decode what the host sends, so a change to these bytes is a
// new protocol Version.
func TestPackedGolden(t *testing.T) {
	recs := []Record{
		{Key: []byte("k"), Value: []byte(`{"a":1}`), Partition: 2, Offset: 300, Timestamp: time.Unix(1700000000, 5),
			Headers: []Header{{Key: "h", Value: []byte("v")}, {Key: "empty", Value: nil}}},
		{Key: []byte{}, Value: nil, Offset: 301},
		{Value: []byte{0, 0xff}, Partition: 1 << 31, Offset: 1 << 62, Timestamp: time.Unix(0, -1)},
	}
	got := AppendPacked(nil, recs)
	// The piecewise builders write the same bytes.
	pieces := AppendPackedCount(nil, len(recs))
	for _, r := range recs {
		var ts int64
		if !r.Timestamp.IsZero() {
			ts = r.Timestamp.UnixNano()
		}
		pieces = AppendPackedRecord(pieces, r.Partition, r.Offset, ts, r.Key, r.Value, len(r.Headers))
		for _, h := range r.Headers {
			pieces = AppendPackedHeader(pieces, h.Key, h.Value)
		}
	}
	if !bytes.Equal(pieces, got) {
		t.Fatalf("piecewise packing differs:\n got %x\nwant %x", pieces, got)
	}
	path := filepath.Join("testdata", "packed.golden")
	if *updatePacked {
		if err := os.WriteFile(path, []byte(hex.Dump(got)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if hex.Dump(got) != string(want) {
		t.Fatalf("the packed encoding changed (protocol version %d); if on purpose, bump Version and run go test -run TestPackedGolden -args -update-packed\ngot:\n%s", Version, hex.Dump(got))
	}
	if len(got) > PackedSize(recs) {
		t.Fatalf("packed %d bytes, more than PackedSize's bound %d", len(got), PackedSize(recs))
	}
}
