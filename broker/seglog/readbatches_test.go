package seglog

import (
	"errors"
	"reflect"
	"testing"
)

// ReadBatches hands out the stored bytes of whole batches, and what
// DecodeBatches makes of them is what Read returns.
func TestReadBatchesServesStoredBatches(t *testing.T) {
	o := memOpts(nil)
	o.SegmentBytes = 400
	o.IndexIntervalBytes = 150
	l := mustOpen(t, o)
	defer l.Close()
	var stored [][]byte
	for i := range 12 {
		rs := recs(string(rune('a'+i)), 1+i%4, 1700000000000000000+int64(i))
		base := mustAppend(t, l, rs)
		stored = append(stored, EncodeBatch(nil, base, rs))
	}
	if n := len(l.Segments()); n < 2 {
		t.Fatalf("%d segments; want several", n)
	}
	for from := l.StartOffset(); from < l.NextOffset(); from++ {
		for _, maxBytes := range []int{1, 200, 1 << 20} {
			data, next, err := l.ReadBatches(from, maxBytes)
			if err != nil {
				t.Fatalf("ReadBatches(%d, %d): %v", from, maxBytes, err)
			}
			got, spans, err := DecodeBatches(data, from)
			if err != nil {
				t.Fatalf("DecodeBatches of ReadBatches(%d, %d): %v", from, maxBytes, err)
			}
			want, err := l.Read(from, maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 || got[0].Offset != from || len(got) > len(want) || !reflect.DeepEqual(got, want[:len(got)]) {
				t.Fatalf("ReadBatches(%d, %d) decodes to %d records, Read gives %d", from, maxBytes, len(got), len(want))
			}
			if last := spans[len(spans)-1]; last.Next != next || last.End != len(data) || spans[0].Start != 0 {
				t.Fatalf("ReadBatches(%d, %d): spans %+v, next %d, %d bytes", from, maxBytes, spans, next, len(data))
			}
			for _, s := range spans {
				if !containsBatch(stored, data[s.Start:s.End]) {
					t.Fatalf("ReadBatches(%d, %d): batch [%d, %d) is not as stored", from, maxBytes, s.Base, s.Next)
				}
			}
			if maxBytes == 1 && len(spans) != 1 {
				t.Fatalf("ReadBatches(%d, 1) read %d batches; want exactly one", from, len(spans))
			}
		}
	}
	if data, next, err := l.ReadBatches(l.NextOffset(), 100); err != nil || len(data) != 0 || next != l.NextOffset() {
		t.Fatalf("ReadBatches at the end: %d bytes, next %d, %v", len(data), next, err)
	}
	if _, _, err := l.ReadBatches(l.NextOffset()+1, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("ReadBatches past the end: %v", err)
	}
}

func containsBatch(stored [][]byte, b []byte) bool {
	for _, s := range stored {
		if reflect.DeepEqual(s, b) {
			return true
		}
	}
	return false
}

// Damaged offsets are left to Read.
func TestReadBatchesLeavesDamageToRead(t *testing.T) {
	o := memOpts(nil)
	l := mustOpen(t, o)
	mustAppend(t, l, recs("a", 3, 0))
	mustAppend(t, l, recs("b", 3, 0))
	l.mu.Lock()
	l.addDamage(Damage{From: 3, To: 6, Segment: "x", Reason: "test"})
	l.mu.Unlock()
	defer l.Close()
	if _, _, err := l.ReadBatches(4, 100); !errors.Is(err, ErrNotPlain) {
		t.Fatalf("ReadBatches in damage: %v; want ErrNotPlain", err)
	}
	data, next, err := l.ReadBatches(0, 1<<20)
	if err != nil || next != 3 {
		t.Fatalf("ReadBatches before damage: next %d, %v; want it to stop at 3", next, err)
	}
	if rs, _, err := DecodeBatches(data, 0); err != nil || len(rs) != 3 {
		t.Fatalf("decoded %d records, %v", len(rs), err)
	}
}

func FuzzDecodeBatches(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, from uint64) {
		rs, spans, err := DecodeBatches(data, from)
		if err != nil {
			if !IsCorruption(err) {
				t.Fatalf("error is not a corruption: %v", err)
			}
			return
		}
		end, n := 0, 0
		for _, s := range spans {
			if s.Start < end || s.End > len(data) || s.Next <= s.Base || max(s.Base, from) >= s.Next {
				t.Fatalf("span %+v after byte %d of %d", s, end, len(data))
			}
			n += int(s.Next - max(s.Base, from))
			end = s.End
		}
		if n != len(rs) {
			t.Fatalf("%d records, the spans hold %d", len(rs), n)
		}
		for _, r := range rs {
			if r.Offset < from {
				t.Fatalf("record %d below from %d", r.Offset, from)
			}
		}
	})
}
