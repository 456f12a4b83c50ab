package seglog

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkEncodeBatch measures encoding one produce request's worth of
// 1 KiB records, into a reused buffer (a warm append queue) and into a
// fresh one (the buffer pool emptied by a collection).
func BenchmarkEncodeBatch(b *testing.B) {
	v := bytes.Repeat([]byte("x"), 1024)
	for _, n := range []int{64, 1000} {
		rs := make([]Record, n)
		for i := range rs {
			rs[i] = Record{Key: []byte("key"), Value: v, Headers: []Header{{Key: "h", Value: []byte("v")}}}
		}
		b.Run(fmt.Sprintf("records=%d/reused", n), func(b *testing.B) {
			buf := encodeBatch(nil, 0, rs, 1)
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				buf = encodeBatch(buf[:0], 0, rs, 1)
			}
		})
		b.Run(fmt.Sprintf("records=%d/fresh", n), func(b *testing.B) {
			b.SetBytes(int64(len(encodeBatch(nil, 0, rs, 1))))
			b.ReportAllocs()
			for b.Loop() {
				encodeBatch(nil, 0, rs, 1)
			}
		})
	}
}
