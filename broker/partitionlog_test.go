package broker

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker/seglog"
	"github.com/junctionhq/junction/broker/vfs"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// partitionLogs are the PartitionLog implementations the contract runs on.
var partitionLogs = map[string]func(t *testing.T, clock func() time.Time) PartitionLog{
	"segment log on disk": func(t *testing.T, clock func() time.Time) PartitionLog {
		return openSegLog(t, vfs.OS, filepath.Join(t.TempDir(), "p"), clock)
	},
	"segment log in memory": func(t *testing.T, clock func() time.Time) PartitionLog {
		return openSegLog(t, vfs.NewMem(), "/p", clock)
	},
}

func openSegLog(t *testing.T, fs vfs.FS, dir string, clock func() time.Time) PartitionLog {
	l, err := seglog.Open(seglog.Options{FS: fs, Dir: dir, SegmentBytes: 4096, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return segLog{l}
}

func appendRecs(t *testing.T, l PartitionLog, recs ...Record) uint64 {
	t.Helper()
	p, err := l.Enqueue(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	base, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return base
}

func TestPartitionLogContract(t *testing.T) {
	for name, open := range partitionLogs {
		t.Run(name, func(t *testing.T) {
			t.Run("offsets, order and contents", func(t *testing.T) {
				l := open(t, time.Now)
				if base := appendRecs(t, l, Record{Key: []byte("k"), Value: []byte("a"), Headers: []Header{{Key: "h", Value: []byte("1")}, {Key: "h", Value: nil}}}, Record{Value: []byte{}}); base != 0 {
					t.Fatalf("first base = %d", base)
				}
				if base := appendRecs(t, l, Record{Value: []byte("c")}); base != 2 {
					t.Fatalf("second base = %d, want 2", base)
				}
				recs, err := l.Read(0, 1<<20)
				if err != nil || len(recs) != 3 {
					t.Fatalf("read: %d records, %v", len(recs), err)
				}
				for i, r := range recs {
					if r.Offset != uint64(i) {
						t.Fatalf("record %d has offset %d", i, r.Offset)
					}
				}
				if string(recs[0].Key) != "k" || string(recs[0].Value) != "a" || len(recs[0].Headers) != 2 || recs[0].Headers[1].Key != "h" {
					t.Fatalf("record 0 = %+v", recs[0])
				}
				if recs[1].Key != nil || recs[1].Value == nil || len(recs[1].Value) != 0 {
					t.Fatalf("nil key and empty value not preserved: %+v", recs[1])
				}
				if start, next := l.Bounds(); start != 0 || next != 3 {
					t.Fatalf("bounds = %d, %d", start, next)
				}
			})
			t.Run("timestamps come from the writer's clock", func(t *testing.T) {
				clock := &fakeClock{now: time.Unix(1_000_000, 0)}
				l := open(t, clock.Now)
				appendRecs(t, l, Record{Value: []byte("a")})
				clock.advance(time.Hour)
				appendRecs(t, l, Record{Value: []byte("b")}, Record{Value: []byte("given"), Timestamp: 42})
				recs, _ := l.Read(0, 1<<20)
				if recs[0].Timestamp != time.Unix(1_000_000, 0).UnixNano() || recs[1].Timestamp != time.Unix(1_003_600, 0).UnixNano() || recs[2].Timestamp != 42 {
					t.Fatalf("timestamps = %d, %d, %d", recs[0].Timestamp, recs[1].Timestamp, recs[2].Timestamp)
				}
				if off, err := l.OffsetForTime(time.Unix(1_003_000, 0).UnixNano()); err != nil || off != 1 {
					t.Fatalf("OffsetForTime = %d, %v; want 1", off, err)
				}
			})
			t.Run("retention deletes whole old segments, never above the floor", func(t *testing.T) {
				l := open(t, time.Now)
				for i := range 400 {
					appendRecs(t, l, Record{Value: bytes.Repeat([]byte(strconv.Itoa(i)), 20)})
				}
				if n, err := l.Enforce(time.Now(), Retention{MaxMessages: 50}, 100); err != nil || n == 0 {
					t.Fatalf("enforce: %d segments, %v", n, err)
				}
				start, next := l.Bounds()
				if start == 0 || start > 100 || next != 400 {
					t.Fatalf("after retention with floor 100: bounds %d, %d", start, next)
				}
				if _, err := l.Read(0, 1<<20); !errors.Is(err, ErrOffsetOutOfRange) {
					t.Fatalf("read below the start: %v, want ErrOffsetOutOfRange", err)
				}
				if st := l.State(); st.StartOffset != start || st.NextOffset != next || st.Bytes <= 0 || st.Segments == 0 {
					t.Fatalf("state = %+v", st)
				}
			})
		})
	}
}

// The broker stamps messages with its clock, so tests of deadlines and
// retention need not wait for real time.
func TestBrokerClockStampsMessages(t *testing.T) {
	clock := &fakeClock{now: time.Unix(2_000_000, 0)}
	b := openTest(t, t.TempDir(), func(o *Options) { o.Clock = clock.Now })
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 1)
	recs, err := b.Read("s", 0, 0, 1<<20)
	if err != nil || len(recs) != 1 || recs[0].Timestamp != clock.Now().UnixNano() {
		t.Fatalf("read: %+v, %v; want the broker clock's time", recs, err)
	}
	if cfg, _, _ := b.Station("s"); !cfg.CreatedAt.Equal(clock.Now()) {
		t.Fatalf("created at %s, want %s", cfg.CreatedAt, clock.Now())
	}
}
