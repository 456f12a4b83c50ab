package cluster

import (
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestBoundedLogCounts checks what drives the byte bound: a wake-up once
// the bytes stored since compaction reach the limit, a reset when raft
// compacts from the head (not when it drops a conflicting tail), and
// trailing entries sized to the average entry.
func TestBoundedLogCounts(t *testing.T) {
	s, err := openLogStore(t.TempDir(), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	b := newBoundedLog(s, 10<<10)
	defer b.Close()
	if !b.IsMonotonic() {
		t.Error("the WAL's monotonic indexes are hidden from raft")
	}
	woken := func() bool {
		select {
		case <-b.wake:
			return true
		default:
			return false
		}
	}
	data := make([]byte, 1<<10)
	for i := uint64(1); i <= 9; i++ {
		if err := b.StoreLog(&raft.Log{Index: i, Term: 1, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	if woken() {
		t.Fatal("woken after 9 KiB of a 10 KiB limit")
	}
	if err := b.StoreLogs([]*raft.Log{{Index: 10, Term: 1, Data: data}, {Index: 11, Term: 1, Data: data}}); err != nil {
		t.Fatal(err)
	}
	if !woken() {
		t.Fatal("not woken after 11 KiB of a 10 KiB limit")
	}
	if err := b.DeleteRange(11, 11); err != nil {
		t.Fatal(err)
	}
	if got := b.since.Load(); got != 11<<10 {
		t.Errorf("dropping the tail changed the count to %d", got)
	}
	if err := b.DeleteRange(1, 5); err != nil {
		t.Fatal(err)
	}
	if got := b.since.Load(); got != 0 {
		t.Errorf("after compaction %d bytes counted, want 0", got)
	}
	for _, c := range []struct{ trailingBytes, most, want uint64 }{
		{1 << 20, 65536, 1024},
		{1 << 30, 65536, 65536},
		{1 << 10, 65536, minTrailingLogs},
	} {
		if got := b.trailingLogs(c.trailingBytes, c.most); got != c.want {
			t.Errorf("trailingLogs(%d, %d) = %d, want %d", c.trailingBytes, c.most, got, c.want)
		}
	}
}
