package cluster

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestLogCache checks that the cache serves the latest entries from
// memory within its bounds, everything else from the WAL, and never an
// entry raft deleted: a conflicting tail replaced by a new leader's
// entries, or a head compacted away.
func TestLogCache(t *testing.T) {
	s, err := openLogStore(t.TempDir(), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	c := newLogCache(newBoundedLog(s, 1<<30), 8, 5<<10)
	defer c.Close()
	if !c.IsMonotonic() {
		t.Error("the WAL's monotonic indexes are hidden from raft")
	}
	entry := func(index, term uint64, size int) *raft.Log {
		return &raft.Log{Index: index, Term: term, Type: raft.LogCommand, Data: bytes.Repeat([]byte{byte(index), byte(term)}, size/2)}
	}
	stored := map[uint64]*raft.Log{}
	store := func(logs ...*raft.Log) {
		t.Helper()
		if err := c.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
		for _, l := range logs {
			stored[l.Index] = l
		}
	}
	// check reads index and reports whether it came from memory.
	check := func(index uint64) (cached bool) {
		t.Helper()
		var got raft.Log
		if err := c.GetLog(index, &got); err != nil {
			t.Fatalf("GetLog(%d): %v", index, err)
		}
		want := stored[index]
		if got.Index != index || got.Term != want.Term || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("GetLog(%d) = index %d term %d, %d bytes; want term %d, %d bytes", index, got.Index, got.Term, len(got.Data), want.Term, len(want.Data))
		}
		return &got.Data[0] == &want.Data[0]
	}
	gone := func(index uint64) {
		t.Helper()
		var got raft.Log
		if err := c.GetLog(index, &got); !errors.Is(err, raft.ErrLogNotFound) {
			t.Fatalf("GetLog(%d) of a deleted entry: %v (index %d), want ErrLogNotFound", index, err, got.Index)
		}
	}

	for i := uint64(1); i <= 10; i++ {
		store(entry(i, 1, 1<<10))
	}
	store(entry(11, 1, 1<<10), entry(12, 1, 1<<10), entry(13, 1, 1<<10))
	for i := uint64(1); i <= 13; i++ {
		// 5 KiB hold the last five 1 KiB entries.
		if cached, want := check(i), i >= 9; cached != want {
			t.Errorf("entry %d served from memory: %v, want %v", i, cached, want)
		}
	}

	// A new leader replaces a conflicting tail.
	if err := c.DeleteRange(12, 13); err != nil {
		t.Fatal(err)
	}
	gone(12)
	store(entry(12, 2, 1<<10))
	if !check(12) || !check(11) {
		t.Error("entries 11 and 12 not served from memory after the tail was replaced")
	}
	gone(13)

	// An entry over the byte bound is not kept, nor are those before it.
	store(entry(13, 2, 6<<10))
	if check(13) || check(12) {
		t.Error("an entry over the cache's byte bound served from memory")
	}
	store(entry(14, 2, 1<<10), entry(15, 2, 1<<10))
	if !check(14) || !check(15) {
		t.Error("entries after an oversized one not served from memory")
	}

	// Compaction from the head.
	if err := c.DeleteRange(1, 14); err != nil {
		t.Fatal(err)
	}
	gone(3)
	gone(14)
	if !check(15) {
		t.Error("entry 15 not served from memory after compaction below it")
	}
	if err := c.DeleteRange(15, 15); err != nil {
		t.Fatal(err)
	}
	gone(15)

	// The bound in entries: 8 entries of 100 bytes.
	for i := uint64(16); i <= 30; i++ {
		store(entry(i, 2, 100))
	}
	for i := uint64(16); i <= 30; i++ {
		if cached, want := check(i), i >= 23; cached != want {
			t.Errorf("entry %d served from memory: %v, want %v", i, cached, want)
		}
	}
	if c.bytes != 800 {
		t.Errorf("cache counts %d bytes, holds 800", c.bytes)
	}
}
