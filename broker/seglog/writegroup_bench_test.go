package seglog

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkAppendLarge measures group commits of large batches (1000 × 1 KiB,
// as a producer's full request) from several appenders, without fsync so
// that the write path, not the disk, is measured.
func BenchmarkAppendLarge(b *testing.B) {
	for _, appenders := range []int{1, 8} {
		b.Run(fmt.Sprintf("appenders=%d", appenders), func(b *testing.B) {
			l := mustOpen(b, Options{Dir: b.TempDir(), Logger: quiet, Sync: SyncNever})
			defer l.Close()
			batch := make([]Record, 1000)
			for i := range batch {
				batch[i].Value = make([]byte, 1024)
			}
			b.SetBytes(1000 * 1024)
			b.ResetTimer()
			b.SetParallelism(appenders)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := l.Append(context.Background(), batch); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
