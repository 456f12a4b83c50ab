package plugin

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/plugin/config"
	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/protocol"
)

// The discard plugin orders writes, so the pump keeps two in flight: every
// record arrives, none twice, and the pump never restarts.
func TestOrderedWritesThroughPlugin(t *testing.T) {
	e := start(t, filepath.Join(t.TempDir(), "data"), RestartPolicy{})
	if _, err := e.b.CreateStation(t.Context(), broker.StationConfig{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	e.produce(t, "s", 0, 20_000)
	def := "name: d\nconnector: discard\nkind: sink\nstation: s\nbatch: {max_records: 1000, max_wait: 1ms}\n"
	if _, _, _, err := e.h.Apply(context.Background(), "d.yaml", []byte(def)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every record written", 30*time.Second, func() bool {
		st, _ := e.h.Status("d")
		return st.RecordsOut >= 20_000 || st.Restarts > 0 || st.LastError != ""
	})
	st, _ := e.h.Status("d")
	if st.RecordsOut != 20_000 || st.Restarts != 0 || st.LastError != "" {
		t.Fatalf("status = out %d, restarts %d, last error %q", st.RecordsOut, st.Restarts, st.LastError)
	}
}

// orderedFake is an in-process sink that orders writes the way a plugin's
// does: each runs after the one started before it, and after a failed
// one every later write is refused unwritten.
type orderedFake struct {
	connector.UnimplementedSink
	failAt int // the write (from 1) that fails; 0 for none
	seq    int
	last   chan struct{} // closed when the last write started ended
	failed bool          // touched only by writes, one after another
	// nextSent is closed when the write after failAt was started: the
	// failing write waits for it, so it fails with a later write in flight.
	nextSent chan struct{}

	mu      sync.Mutex
	written map[uint64]int // offset -> times written
}

func (f *orderedFake) Open(context.Context, connector.SinkInfo) (map[uint32]uint64, error) {
	f.seq, f.last, f.failed = 0, nil, false
	return nil, nil
}

func (f *orderedFake) TakesRecordBatches() bool { return true }
func (f *orderedFake) OrdersWrites() bool       { return true }

func (f *orderedFake) WriteRecordBatches(ctx context.Context, bs []protocol.RecordBatches) error {
	return <-f.StartRecordBatches(ctx, bs)
}

func (f *orderedFake) StartRecordBatches(_ context.Context, bs []protocol.RecordBatches) <-chan error {
	f.seq++
	if f.failAt > 0 && f.seq == f.failAt+1 {
		close(f.nextSent)
	}
	seq, prev, mine := f.seq, f.last, make(chan struct{})
	f.last = mine
	done := make(chan error, 1)
	go func() {
		defer close(mine)
		if prev != nil {
			<-prev
		}
		switch {
		case f.failed:
			done <- errors.New("refused: an earlier write failed")
		case seq == f.failAt:
			f.failed = true
			select {
			case <-f.nextSent:
				done <- errors.New("destination refused the batch")
			case <-time.After(10 * time.Second):
				done <- errors.New("the pump never sent the next write while this one ran")
			}
		default:
			recs, err := protocol.DecodeRecordBatches(bs)
			f.mu.Lock()
			for _, r := range recs {
				f.written[r.Offset]++
			}
			f.mu.Unlock()
			done <- err
		}
	}()
	return done
}

func (f *orderedFake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.written)
}

// A sink failing mid-pipeline, with later writes already sent, loses and
// duplicates nothing: the writes before it are acked, nothing after it is
// written or acked, and the next run resumes right after what was written.
func TestPipelinedSinkFailingMidwayLosesAndDuplicatesNothing(t *testing.T) {
	e := startEnv(t, t.TempDir(), RestartPolicy{})
	defer e.close()
	if _, err := e.b.CreateStation(t.Context(), broker.StationConfig{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	e.produce(t, "s", 0, n)
	def := &config.Connector{Name: "piped", Station: "s", Kind: config.KindSink, DLQ: "s.dlq", Timeout: 30 * time.Second,
		Batch: config.Batch{MaxRecords: 100, MaxBytes: 1 << 20, MaxWait: time.Millisecond}}

	first := &orderedFake{failAt: 3, written: map[uint64]int{}, nextSent: make(chan struct{})}
	err := newRunner(e.h, def, Installed{}, record{}).runSink(context.Background(), first)
	if err == nil || !strings.Contains(err.Error(), "destination refused the batch") {
		t.Fatalf("runSink = %v, want the sink's error", err)
	}
	gi, err := e.b.Group("s", GroupName("piped"))
	if err != nil {
		t.Fatal(err)
	}
	if got := gi.Partitions[0].Committed; got != 200 || first.count() != 200 {
		t.Fatalf("after the third write failed: committed %d, written %d records; want 200 and 200", got, first.count())
	}

	second := &orderedFake{written: map[uint64]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- newRunner(e.h, def, Installed{}, record{}).runSink(ctx, second) }()
	waitFor(t, "the rest written", 30*time.Second, func() bool { return second.count() >= n-200 })
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("second run: %v", err)
	}
	for off := uint64(0); off < n; off++ {
		if times := first.written[off] + second.written[off]; times != 1 {
			t.Fatalf("record %d written %d times", off, times)
		}
	}
}
