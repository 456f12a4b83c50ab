package seglog

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

func TestVarintLen(t *testing.T) {
	xs := []int64{0, 1, -1, 63, -64, 64, -65, 8191, 8192, -8193, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64}
	for s := uint(0); s < 64; s++ {
		xs = append(xs, 1<<s, -(1 << s), 1<<s-1, -(1<<s)+1)
	}
	for _, x := range xs {
		if got, want := varintLen(x), len(binary.AppendVarint(nil, x)); got != want {
			t.Errorf("varintLen(%d) = %d, want %d", x, got, want)
		}
	}
}

// TestEncodeBatchSizedOnce checks that encodeBatch reserves exactly what
// it writes, whatever the records hold: one allocation into an empty
// buffer, none into one with room for the batch and nothing more.
func TestEncodeBatchSizedOnce(t *testing.T) {
	big := bytes.Repeat([]byte("v"), 300)
	cases := map[string][]Record{
		"golden":      goldenRecords(),
		"generated":   recs("s", 500, 1),
		"unstamped":   recs("u", 3, 0),
		"large":       {{Key: big, Value: bytes.Repeat(big, 1000), Headers: []Header{{Key: string(big), Value: big}}}},
		"wide deltas": {{Timestamp: math.MaxInt64 / 2}, {Timestamp: 1}, {Timestamp: math.MaxInt64 / 2 * 2}},
	}
	for name, rs := range cases {
		want := encodeBatch(nil, 0, rs, 5)
		if size, _, _ := batchLayout(rs, 5); size != len(want) {
			t.Errorf("%s: batchLayout says %d bytes, encodeBatch wrote %d", name, size, len(want))
		}
		if n := testing.AllocsPerRun(10, func() { encodeBatch(nil, 0, rs, 5) }); n != 1 && !raceEnabled {
			t.Errorf("%s: %v allocations encoding into an empty buffer, want 1", name, n)
		}
		exact := make([]byte, 3, 3+len(want))
		if got := encodeBatch(exact, 0, rs, 5); &got[0] != &exact[0] || !bytes.Equal(got[3:], want) {
			t.Errorf("%s: encoding into a buffer with exactly enough room moved it or changed the bytes", name)
		}
	}
}
