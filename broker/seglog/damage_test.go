package seglog

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

// cleanLog appends batches of 1 to 4 records over several small segments
// and closes the log cleanly. It returns the options, the records and the
// log's next offset.
func cleanLog(t *testing.T) (Options, []Record, uint64) {
	t.Helper()
	o := memOpts(nil)
	o.SegmentBytes = 4096
	o.IndexIntervalBytes = 200
	l := mustOpen(t, o)
	var all []Record
	for i := range 120 {
		rs := recs("c", i%4+1, 0)
		mustAppend(t, l, rs)
		all = append(all, rs...)
	}
	next := l.NextOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return o, all, next
}

// readThrough reads every offset from StartOffset to NextOffset, passing
// over damaged ranges, and returns the records read and the damage met.
func readThrough(t *testing.T, l *Log) (map[uint64]Record, []Damage) {
	t.Helper()
	got := make(map[uint64]Record)
	var met []Damage
	for from := l.StartOffset(); from < l.NextOffset(); {
		rs, err := l.Read(from, 300)
		var ce *CorruptionError
		switch {
		case errors.As(err, &ce):
			if !IsCorruption(err) || ce.Damage.To <= from {
				t.Fatalf("Read(%d): %v", from, err)
			}
			met = append(met, ce.Damage)
			from = ce.Damage.To
			continue
		case err != nil:
			t.Fatalf("Read(%d): %v", from, err)
		case len(rs) == 0:
			t.Fatalf("Read(%d) returned nothing below NextOffset %d", from, l.NextOffset())
		}
		for _, r := range rs {
			got[r.Offset] = r
		}
		from = rs[len(rs)-1].Offset + 1
	}
	return got, met
}

// TestMidTailCorruptionIsNotTruncated is the regression test for a flipped
// byte in the middle of the tail segment: recovery used to cut the tail
// there, dropping the acknowledged batches after it, and give their offsets
// out again.
func TestMidTailCorruptionIsNotTruncated(t *testing.T) {
	o, all, next := cleanLog(t)
	segs := segmentBases(t, o)
	tail := segs[len(segs)-1]
	path := segPath(o.Dir, tail, logSuffix)
	orig := fileBytes(t, o.FS, path)
	ends := batchEnds(t, orig)
	if len(ends) < 4 {
		t.Fatalf("tail segment has %d batches; the test needs 4", len(ends))
	}
	bad := ends[1] // third batch
	damaged := bytes.Clone(orig)
	damaged[bad+batchHeaderSize+2] ^= 0x40
	writeFile(t, o.FS, path, damaged)
	badRecs, _, _ := DecodeBatch(orig[bad:])
	from := badRecs[0].Offset
	to := from + uint64(len(badRecs))

	var logBuf bytes.Buffer
	o.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
	l := mustOpen(t, o)
	defer l.Close()
	if l.NextOffset() != next {
		t.Fatalf("NextOffset %d after recovery, want %d", l.NextOffset(), next)
	}
	if got := fileBytes(t, o.FS, path); !bytes.Equal(got, damaged) {
		t.Fatalf("recovery changed the damaged segment (%d bytes, was %d)", len(got), len(damaged))
	}
	st := l.Status()
	if len(st.Damaged) != 1 || st.Damaged[0].From != from || st.Damaged[0].To != to || st.Damaged[0].Segment != segmentName(tail, logSuffix) {
		t.Fatalf("Status().Damaged = %+v, want [%d, %d) in the tail segment", st.Damaged, from, to)
	}
	if !strings.Contains(logBuf.String(), "corrupt data") || !strings.Contains(logBuf.String(), segmentName(tail, logSuffix)) {
		t.Fatalf("no error naming the segment in the log: %s", logBuf.String())
	}
	_, err := l.Read(from, 1<<20)
	var ce *CorruptionError
	if !errors.As(err, &ce) || !IsCorruption(err) || ce.Damage.From != from {
		t.Fatalf("Read(%d) = %v, want a CorruptionError", from, err)
	}
	got, met := readThrough(t, l)
	if len(met) != 1 {
		t.Fatalf("met damage %+v", met)
	}
	for off, r := range all {
		if uint64(off) >= from && uint64(off) < to {
			continue
		}
		if g, ok := got[uint64(off)]; !ok || !sameRecord(g, r) {
			t.Fatalf("offset %d not served intact", off)
		}
	}
	if base := mustAppend(t, l, recs("after", 2, 0)); base != next {
		t.Fatalf("append after recovery at %d, want %d", base, next)
	}

	// Skipping settles the damage for good; the offsets stay unused.
	rep, err := l.Repair(context.Background(), RepairSkip)
	if err != nil || len(rep) != 1 || rep[0].From != from || rep[0].To != to {
		t.Fatalf("Repair = %+v, %v", rep, err)
	}
	if st := l.Status(); st.Corrupt() || len(st.Lost) != 1 {
		t.Fatalf("after repair: %+v", st)
	}
	rs, err := l.Read(from, 1<<20)
	if err != nil || len(rs) == 0 || rs[0].Offset != to {
		t.Fatalf("Read(%d) after skip = %v, %v; want records from %d", from, rs, err, to)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, o)
	if st := l.Status(); st.Corrupt() || len(st.Lost) != 1 || l.NextOffset() != next+2 {
		t.Fatalf("after reopen: %+v, next %d", st, l.NextOffset())
	}
}

func segmentBases(t *testing.T, o Options) []uint64 {
	t.Helper()
	entries, err := o.FS.ReadDir(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, e := range entries {
		if b, ok := parseSegmentName(e.Name()); ok {
			out = append(out, b)
		}
	}
	return out
}

// TestOffsetsNeverReused: a lost tail segment or a consumer's commit above
// what recovery finds raises the next offset, and the gap is damage.
func TestOffsetsNeverReused(t *testing.T) {
	t.Run("high-water mark", func(t *testing.T) {
		o, _, next := cleanLog(t)
		segs := segmentBases(t, o)
		if err := o.FS.Remove(segPath(o.Dir, segs[len(segs)-1], logSuffix)); err != nil {
			t.Fatal(err)
		}
		l := mustOpen(t, o)
		defer l.Close()
		if l.NextOffset() != next {
			t.Fatalf("NextOffset %d, want the high-water mark %d", l.NextOffset(), next)
		}
		if st := l.Status(); len(st.Damaged) != 1 || st.Damaged[0].To != next || st.Damaged[0].From != segs[len(segs)-1] {
			t.Fatalf("Damaged = %+v", st.Damaged)
		}
	})
	t.Run("committed offset", func(t *testing.T) {
		o, _, next := cleanLog(t)
		o.MinNextOffset = next + 100
		l := mustOpen(t, o)
		if base := mustAppend(t, l, recs("x", 1, 0)); base != next+100 {
			t.Fatalf("append at %d, want %d", base, next+100)
		}
		if st := l.Status(); len(st.Damaged) != 1 || st.Damaged[0].From != next || st.Damaged[0].To != next+100 {
			t.Fatalf("Damaged = %+v", st.Damaged)
		}
		if _, err := l.Read(next+5, 1<<20); !IsCorruption(err) {
			t.Fatalf("Read in the gap = %v", err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		o.MinNextOffset = 0
		l = mustOpen(t, o)
		defer l.Close()
		if st := l.Status(); len(st.Damaged) != 1 || l.NextOffset() != next+101 {
			t.Fatalf("after reopen: %+v next %d", st.Damaged, l.NextOffset())
		}
	})
	t.Run("never fsyncs", func(t *testing.T) {
		o := memOpts(nil)
		o.Sync, o.MinNextOffset = SyncNever, 50
		l := mustOpen(t, o)
		defer l.Close()
		if st := l.Status(); st.Corrupt() || len(st.Lost) != 1 || l.StartOffset() != 50 {
			t.Fatalf("a fresh never-fsync log: %+v start %d", st, l.StartOffset())
		}
		if base := mustAppend(t, l, recs("x", 1, 0)); base != 50 {
			t.Fatalf("append at %d", base)
		}
	})
}

// TestRepairCut truncates the damaged segment and keeps offsets unused.
func TestRepairCut(t *testing.T) {
	o, _, next := cleanLog(t)
	path := segPath(o.Dir, 0, logSuffix)
	orig := fileBytes(t, o.FS, path)
	ends := batchEnds(t, orig)
	damaged := bytes.Clone(orig)
	damaged[ends[2]+batchHeaderSize] ^= 1
	writeFile(t, o.FS, path, damaged)
	l := mustOpen(t, o)
	defer l.Close()
	// An older segment's checksums are the scrub's job.
	if l.Status().Corrupt() {
		t.Fatalf("damage found at open in an older segment with a good index")
	}
	if _, err := l.Scrub(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	st := l.Status()
	if len(st.Damaged) != 1 {
		t.Fatalf("scrub found %+v", st.Damaged)
	}
	segNext := l.Segments()[0].NextOffset
	rep, err := l.Repair(context.Background(), RepairCut)
	if err != nil || len(rep) != 1 || rep[0].From != st.Damaged[0].From || rep[0].To != segNext || rep[0].BytesRemoved != int64(len(orig)-ends[2]) {
		t.Fatalf("Repair = %+v, %v (segment ended at %d)", rep, err, segNext)
	}
	if got := fileBytes(t, o.FS, path); !bytes.Equal(got, orig[:ends[2]]) {
		t.Fatalf("segment not cut at the bad batch")
	}
	got, met := readThrough(t, l)
	if len(met) != 0 || uint64(len(got)) != next-(rep[0].To-rep[0].From) {
		t.Fatalf("read %d records meeting %+v", len(got), met)
	}
	if base := mustAppend(t, l, recs("after", 1, 0)); base != next {
		t.Fatalf("append at %d, want %d", base, next)
	}
}

// TestReadFindsDamageTheScrubHasNotReached: a read that meets a bad batch
// in an older segment records the damage and serves what came before it.
func TestReadFindsDamageTheScrubHasNotReached(t *testing.T) {
	o, all, _ := cleanLog(t)
	path := segPath(o.Dir, 0, logSuffix)
	orig := fileBytes(t, o.FS, path)
	ends := batchEnds(t, orig)
	damaged := bytes.Clone(orig)
	damaged[ends[0]+batchHeaderSize+1] ^= 0x80
	writeFile(t, o.FS, path, damaged)
	l := mustOpen(t, o)
	defer l.Close()
	rs, err := l.Read(0, 1<<20)
	if err != nil || len(rs) == 0 || !sameRecord(rs[0], all[0]) {
		t.Fatalf("Read(0) = %d records, %v", len(rs), err)
	}
	first := rs[len(rs)-1].Offset + 1
	if _, err := l.Read(first, 1<<20); !IsCorruption(err) {
		t.Fatalf("Read(%d) = %v, want corruption", first, err)
	}
	if st := l.Status(); len(st.Damaged) != 1 || st.Damaged[0].From != first {
		t.Fatalf("Damaged = %+v", st.Damaged)
	}
}

func TestScrubRateLimitAndCancel(t *testing.T) {
	o, _, _ := cleanLog(t)
	l := mustOpen(t, o)
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Scrub(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Scrub with a cancelled context = %v", err)
	}
	n, err := l.Scrub(context.Background(), 0)
	if err != nil || n != l.Size() {
		t.Fatalf("Scrub verified %d of %d bytes: %v", n, l.Size(), err)
	}
}

func TestStateFileMalformedIsIgnored(t *testing.T) {
	o, _, next := cleanLog(t)
	writeFile(t, o.FS, o.Dir+"/"+stateName, []byte(`{"version":1,"high_water_mark":5,"lost":[{"from":9,"to":3}]}`))
	var logBuf bytes.Buffer
	o.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
	l := mustOpen(t, o)
	defer l.Close()
	if l.NextOffset() != next || !strings.Contains(logBuf.String(), stateName) {
		t.Fatalf("next %d; log %s", l.NextOffset(), logBuf.String())
	}
}

func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version":1,"high_water_mark":10,"lost":[{"from":1,"to":3,"at":"2026-01-02T03:04:05Z","reason":"x"}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeState(b)
		if err != nil {
			return
		}
		for i, r := range s.Lost {
			if r.From >= r.To || r.To > s.HighWaterMark || (i > 0 && r.From < s.Lost[i-1].To) {
				t.Fatalf("accepted bad range %d: %+v", i, r)
			}
		}
	})
}

func TestRetentionForgetsDamageItDeletes(t *testing.T) {
	o, _, _ := cleanLog(t)
	path := segPath(o.Dir, 0, logSuffix)
	b := fileBytes(t, o.FS, path)
	b[batchHeaderSize+1] ^= 1
	writeFile(t, o.FS, path, b)
	l := mustOpen(t, o)
	defer l.Close()
	if _, err := l.Scrub(context.Background(), 0); err != nil || !l.Status().Corrupt() {
		t.Fatalf("scrub: %v, %+v", err, l.Status())
	}
	if n, err := l.Enforce(time.Now(), Retention{MaxMessages: 1}, math.MaxUint64); err != nil || n == 0 {
		t.Fatalf("Enforce deleted %d: %v", n, err)
	}
	if st := l.Status(); st.Corrupt() {
		t.Fatalf("damage of a deleted segment still reported: %+v", st.Damaged)
	}
}

// TestDamageUnderConcurrentUse scrubs, reads and repairs a damaged log
// while appends go on (run with -race).
func TestDamageUnderConcurrentUse(t *testing.T) {
	o, _, next := cleanLog(t)
	path := segPath(o.Dir, 0, logSuffix)
	b := fileBytes(t, o.FS, path)
	ends := batchEnds(t, b)
	b[ends[1]+batchHeaderSize+3] ^= 2
	writeFile(t, o.FS, path, b)
	l := mustOpen(t, o)
	defer l.Close()
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			if _, err := l.Append(ctx, recs("live", 2, 0)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 5 {
		if _, err := l.Scrub(ctx, 0); err != nil {
			t.Fatal(err)
		}
		for from := uint64(0); from < next; from += 7 {
			if _, err := l.Read(from, 500); err != nil && !IsCorruption(err) {
				t.Fatalf("Read(%d): %v", from, err)
			}
		}
	}
	if _, err := l.Repair(ctx, RepairCut); err != nil {
		t.Fatal(err)
	}
	<-done
	st := l.Status()
	if st.Corrupt() || len(st.Lost) != 1 {
		t.Fatalf("after repair: %+v", st)
	}
	got, met := readThrough(t, l)
	if len(met) != 0 || uint64(len(got)) != l.NextOffset()-(st.Lost[0].To-st.Lost[0].From) {
		t.Fatalf("read %d records, met %v", len(got), met)
	}
}
