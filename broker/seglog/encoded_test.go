package seglog

import (
	"bytes"
	"context"
	"testing"
)

// TestEnqueueBatchStoresTheSameBytes: a batch appended encoded lands
// byte for byte as Append would have written its records, at the log's
// next offset whatever base offset it carried.
func TestEnqueueBatchStoresTheSameBytes(t *testing.T) {
	plain, encoded := mustOpen(t, memOpts(nil)), mustOpen(t, memOpts(nil))
	ctx := context.Background()
	for i := range 5 {
		rs := recs("e", i+1, int64(1000*(i+1)))
		want := mustAppend(t, plain, rs)
		p, err := encoded.EnqueueBatch(ctx, EncodeBatch(nil, 99, rs))
		if err != nil {
			t.Fatal(err)
		}
		if base, err := p.Wait(); err != nil || base != want {
			t.Fatalf("batch %d: base %d, %v; want %d", i, base, err, want)
		}
	}
	a, b := plain.opts, encoded.opts
	if err := plain.Close(); err != nil {
		t.Fatal(err)
	}
	if err := encoded.Close(); err != nil {
		t.Fatal(err)
	}
	if x, y := fileBytes(t, a.FS, segPath(a.Dir, 0, logSuffix)), fileBytes(t, b.FS, segPath(b.Dir, 0, logSuffix)); !bytes.Equal(x, y) {
		t.Fatalf("segments differ:\n%x\n%x", x, y)
	}
}

func TestEnqueueBatchRefusesBadBatches(t *testing.T) {
	l := mustOpen(t, memOpts(nil))
	defer l.Close()
	good := EncodeBatch(nil, 0, recs("r", 3, 1000))
	for name, b := range map[string][]byte{
		"empty":      nil,
		"short":      good[:batchHeaderSize-1],
		"truncated":  good[:len(good)-1],
		"trailing":   append(bytes.Clone(good), 0),
		"bad crc":    func() []byte { c := bytes.Clone(good); c[len(c)-1] ^= 1; return c }(),
		"bad header": func() []byte { c := bytes.Clone(good); c[offMagic] = 9; return c }(),
	} {
		if _, err := l.EnqueueBatch(context.Background(), b); !IsCorruption(err) {
			t.Errorf("%s: EnqueueBatch = %v, want a corruption error", name, err)
		}
	}
	if l.NextOffset() != 0 {
		t.Fatalf("NextOffset %d after refused batches", l.NextOffset())
	}
}

// FuzzEnqueueBatch: a batch DecodeBatch takes whole is stored and read
// back as it decodes; any other is refused as corrupt unless its header
// and checksum hold (its records are the caller's to have decoded).
func FuzzEnqueueBatch(f *testing.F) {
	f.Add(EncodeBatch(nil, 5, recs("f", 2, 1000)))
	f.Fuzz(func(t *testing.T, b []byte) {
		l := mustOpen(t, memOpts(nil))
		defer l.Close()
		want, n, derr := DecodeBatch(b)
		whole := derr == nil && n == len(b)
		p, err := l.EnqueueBatch(context.Background(), b)
		if err != nil {
			if whole || !IsCorruption(err) {
				t.Fatalf("EnqueueBatch = %v for a batch DecodeBatch takes: %v", err, derr)
			}
			return
		}
		if _, err := p.Wait(); err != nil {
			t.Fatal(err)
		}
		if !whole {
			return
		}
		got := readAll(t, l, 0, 1<<20)
		if len(got) != len(want) {
			t.Fatalf("read %d records, want %d", len(got), len(want))
		}
		for i := range got {
			if !sameRecord(got[i], want[i]) || got[i].Timestamp != want[i].Timestamp || got[i].Offset != uint64(i) {
				t.Fatalf("record %d differs: %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}
