package seglog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// builderRecords are records a BatchBuilder can hold (no headers, no
// timestamps), nil and empty keys and values among them.
func builderRecords(n int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i].Value = []byte(fmt.Sprintf("value-%d", i))
		switch i % 4 {
		case 1:
			out[i].Key = []byte(fmt.Sprintf("key-%d", i))
		case 2:
			out[i].Key, out[i].Value = []byte{}, nil
		case 3:
			out[i].Value = []byte{}
		}
	}
	return out
}

// A built batch is byte for byte the one encodeBatch makes of the same
// records, so the segment format has one encoding whichever way it came.
func TestBatchBuilderEncodesLikeEncodeBatch(t *testing.T) {
	const now = 1_700_000_000_123_456_789
	var b BatchBuilder
	for _, n := range []int{1, 2, 5, 200} {
		rs := builderRecords(n)
		b.Reset()
		b.Grow(n, 0)
		for _, r := range rs {
			b.Add(r.Key, r.Value)
		}
		if b.Len() != n {
			t.Fatalf("%d records: Len %d", n, b.Len())
		}
		got := b.seal(now)
		want := encodeBatch(nil, 0, rs, now)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d records:\n built   %x\n encoded %x", n, got, want)
		}
		i := 0
		for k, v := range b.All() {
			if !sameRecord(Record{Key: k, Value: v}, rs[i]) {
				t.Fatalf("All yields record %d as %q/%q, want %q/%q", i, k, v, rs[i].Key, rs[i].Value)
			}
			i++
		}
		if i != n {
			t.Fatalf("All yields %d records, want %d", i, n)
		}
	}
}

func TestBatchBuilderCounts(t *testing.T) {
	var b BatchBuilder
	b.Add(nil, []byte("12345"))
	b.Add(nil, nil)
	if b.HasKeys() || b.PayloadBytes() != 5 || b.LargestRecord() != 5 {
		t.Fatalf("without keys: HasKeys %v, PayloadBytes %d, LargestRecord %d", b.HasKeys(), b.PayloadBytes(), b.LargestRecord())
	}
	b.Add([]byte("kk"), []byte("1234567"))
	if !b.HasKeys() || b.PayloadBytes() != 14 || b.LargestRecord() != 9 || b.Len() != 3 {
		t.Fatalf("with a key: HasKeys %v, PayloadBytes %d, LargestRecord %d, Len %d", b.HasKeys(), b.PayloadBytes(), b.LargestRecord(), b.Len())
	}
	b.Reset()
	if b.HasKeys() || b.PayloadBytes() != 0 || b.LargestRecord() != 0 || b.Len() != 0 {
		t.Fatal("Reset left counts behind")
	}
}

// EnqueueBuilt appends the records stamped with the log's clock, takes the
// builder's buffer and hands it another: building the next batch at once
// must not change the one queued.
func TestEnqueueBuilt(t *testing.T) {
	o := memOpts(nil)
	ts := time.Unix(0, 42_000)
	o.Clock = func() time.Time { return ts }
	l := mustOpen(t, o)
	defer l.Close()
	ctx := context.Background()

	var b BatchBuilder
	first := builderRecords(7)
	for _, r := range first {
		b.Add(r.Key, r.Value)
	}
	p1, err := l.EnqueueBuilt(ctx, &b)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 0 {
		t.Fatalf("builder holds %d records after EnqueueBuilt", b.Len())
	}
	second := recs("second", 3, 0)
	for _, r := range second {
		b.Add(r.Key, bytes.Repeat(r.Value, 100))
	}
	p2, err := l.EnqueueBuilt(ctx, &b)
	if err != nil {
		t.Fatal(err)
	}
	if base, err := p1.Wait(); err != nil || base != 0 {
		t.Fatalf("first batch: base %d, %v", base, err)
	}
	if base, err := p2.Wait(); err != nil || base != 7 {
		t.Fatalf("second batch: base %d, %v", base, err)
	}
	got := readAll(t, l, 0, 1<<20)
	if len(got) != 10 {
		t.Fatalf("read %d records, want 10", len(got))
	}
	for i, r := range got {
		want := Record{}
		if i < 7 {
			want = first[i]
		} else {
			want = Record{Key: second[i-7].Key, Value: bytes.Repeat(second[i-7].Value, 100)}
		}
		if !sameRecord(r, want) || r.Offset != uint64(i) || r.Timestamp != ts.UnixNano() {
			t.Fatalf("record %d: %+v, want %q/%q at %d stamped %d", i, r, want.Key, want.Value, i, ts.UnixNano())
		}
	}
}

func TestEnqueueBuiltRefuses(t *testing.T) {
	l := mustOpen(t, memOpts(nil))
	var b BatchBuilder
	if _, err := l.EnqueueBuilt(context.Background(), &b); !errors.Is(err, ErrEmptyAppend) {
		t.Fatalf("empty builder: %v, want ErrEmptyAppend", err)
	}
	b.Add(nil, []byte("v"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.EnqueueBuilt(ctx, &b); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.EnqueueBuilt(context.Background(), &b); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed log: %v, want ErrClosed", err)
	}
	if b.Len() != 1 {
		t.Fatalf("a refused builder holds %d records, want its 1", b.Len())
	}
}
