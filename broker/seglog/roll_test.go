package seglog

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/junctionhq/junction/broker/vfs"
)

// TestRollSyncsDirectoryBeforeAck records the file system operations of a
// SyncAlways log that rolls often and checks, at each acknowledgement, that
// the segment holding the acknowledged batch was fsynced and the log
// directory synced after the segment file was created: a power loss after
// the acknowledgement cannot take the batch with the segment's name.
func TestRollSyncsDirectoryBeforeAck(t *testing.T) {
	var mu sync.Mutex
	var ops []vfs.Op
	o := memOpts(vfs.NewErrorFS(vfs.NewMem(), vfs.InjectorFunc(func(op vfs.Op) error {
		mu.Lock()
		ops = append(ops, op)
		mu.Unlock()
		return nil
	})))
	o.SegmentBytes = 1024
	l := mustOpen(t, o)
	defer l.Close()
	for i := range 60 {
		base := mustAppend(t, l, recs(strings.Repeat("p", 40), 2, 0))
		var seg SegmentInfo
		for _, s := range l.Segments() {
			if s.BaseOffset <= base {
				seg = s
			}
		}
		path := filepath.Join(o.Dir, segmentName(seg.BaseOffset, logSuffix))
		mu.Lock()
		created, synced, dirSynced := -1, false, false
		for j, op := range ops {
			switch {
			case op.Kind == vfs.OpOpen && op.Path == path && created < 0:
				created = j
			case created < 0:
			case op.Kind == vfs.OpSync && op.Path == path:
				synced = true
			case op.Kind == vfs.OpSyncDir:
				dirSynced = true
			}
		}
		mu.Unlock()
		if created < 0 || !synced || !dirSynced {
			t.Fatalf("append %d acknowledged at offset %d in %s: created %v, fsynced %v, directory synced %v since",
				i, base, filepath.Base(path), created >= 0, synced, dirSynced)
		}
	}
	if n := len(l.Segments()); n < 5 {
		t.Fatalf("%d segments: the log did not roll", n)
	}
}

// TestRollLeavesSealingToTheBackground blocks the fsync of a rolled
// segment's index file and checks that appends go on into the new segment
// meanwhile, and that Close waits for the index.
func TestRollLeavesSealingToTheBackground(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	blocked := make(chan struct{})
	o := memOpts(vfs.NewErrorFS(vfs.NewMem(), vfs.InjectorFunc(func(op vfs.Op) error {
		if op.Kind == vfs.OpSync && strings.HasSuffix(op.Path, indexSuffix) {
			once.Do(func() { close(blocked) })
			<-release
		}
		return nil
	})))
	o.SegmentBytes = 4096
	l := mustOpen(t, o)
	var next uint64
	for len(l.Segments()) < 2 {
		next = mustAppend(t, l, offsetRecords(next, 4)) + 4
	}
	<-blocked
	for range 5 {
		next = mustAppend(t, l, offsetRecords(next, 4)) + 4
	}
	if n := len(l.Segments()); n != 2 {
		t.Fatalf("%d segments, want 2", n)
	}
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) before the rolled segment's index was written", err)
	default:
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, o)
	defer l.Close()
	checkOffsets(t, readAll(t, l, 0, 1<<20), 0)
	if l.NextOffset() != next {
		t.Fatalf("NextOffset %d after reopening, want %d", l.NextOffset(), next)
	}
}
