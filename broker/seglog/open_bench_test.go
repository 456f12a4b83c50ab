package seglog

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkOpen measures opening a log of many sealed 256 KiB segments of
// 1 KiB batches (64 index entries each), and reports the files the open
// log holds.
func BenchmarkOpen(b *testing.B) {
	for _, segs := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("segments=%d", segs), func(b *testing.B) {
			o := Options{Dir: filepath.Join(b.TempDir(), "log"), Logger: quiet, SegmentBytes: 256 << 10, Sync: SyncNever}
			l, err := Open(o)
			if err != nil {
				b.Fatal(err)
			}
			rs := []Record{{Value: bytes.Repeat([]byte("x"), 1000)}}
			for len(l.Segments()) <= segs {
				if _, err := l.Append(context.Background(), rs); err != nil {
					b.Fatal(err)
				}
			}
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			var fds int
			for b.Loop() {
				l, err := Open(o)
				if err != nil {
					b.Fatal(err)
				}
				fds = countOpenFiles(o.Dir)
				if err := l.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(fds), "files-open")
		})
	}
}

// countOpenFiles counts this process's open files in dir; -1 when
// /proc/self/fd cannot be read.
func countOpenFiles(dir string) int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			n++
		}
	}
	return n
}
