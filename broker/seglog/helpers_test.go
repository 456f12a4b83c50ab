package seglog

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/junctionhq/junction/broker/vfs"
)

var quiet = slog.New(slog.DiscardHandler)

// memOpts returns options for a log in a fresh in-memory filesystem.
func memOpts(fsys vfs.FS) Options {
	if fsys == nil {
		fsys = vfs.NewMem()
	}
	return Options{FS: fsys, Dir: "/log", Logger: quiet}
}

func mustOpen(t testing.TB, o Options) *Log {
	t.Helper()
	l, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

// recs builds n records whose values name their position, with a fixed
// timestamp ts+i when ts != 0.
func recs(prefix string, n int, ts int64) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = Record{
			Key:   []byte(fmt.Sprintf("%s-k%d", prefix, i)),
			Value: []byte(fmt.Sprintf("%s-v%d", prefix, i)),
		}
		if ts != 0 {
			out[i].Timestamp = ts + int64(i)
		}
		if i%3 == 0 {
			out[i].Headers = []Header{{Key: "h", Value: []byte(prefix)}, {Key: "nil"}}
		}
	}
	return out
}

func mustAppend(t testing.TB, l *Log, rs []Record) uint64 {
	t.Helper()
	base, err := l.Append(context.Background(), rs)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return base
}

// readAll reads every record from `from` to NextOffset with the given budget.
func readAll(t testing.TB, l *Log, from uint64, maxBytes int) []Record {
	t.Helper()
	var out []Record
	for from < l.NextOffset() {
		rs, err := l.Read(from, maxBytes)
		if err != nil {
			t.Fatalf("Read(%d): %v", from, err)
		}
		if len(rs) == 0 {
			t.Fatalf("Read(%d) returned nothing before NextOffset %d", from, l.NextOffset())
		}
		if rs[0].Offset != from {
			t.Fatalf("Read(%d) starts at %d", from, rs[0].Offset)
		}
		out = append(out, rs...)
		from = rs[len(rs)-1].Offset + 1
	}
	return out
}

func sameRecord(a, b Record) bool {
	if !bytes.Equal(a.Key, b.Key) || (a.Key == nil) != (b.Key == nil) ||
		!bytes.Equal(a.Value, b.Value) || (a.Value == nil) != (b.Value == nil) ||
		len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || !bytes.Equal(a.Headers[i].Value, b.Headers[i].Value) ||
			(a.Headers[i].Value == nil) != (b.Headers[i].Value == nil) {
			return false
		}
	}
	return true
}

func segPath(dir string, base uint64, suffix string) string {
	return filepath.Join(dir, segmentName(base, suffix))
}
