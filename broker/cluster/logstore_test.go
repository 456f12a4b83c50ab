package cluster

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// TestLogStoreMigratesBolt opens a raft directory an earlier release left
// (raft.db): the node's log entries and term and vote are in the WAL,
// and raft.db is set aside, not deleted.
func TestLogStoreMigratesBolt(t *testing.T) {
	dir := t.TempDir()
	old, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, legacyRaftDB), BoltOptions: &bbolt.Options{Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	var logs []*raft.Log
	for i := uint64(10); i <= 300; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 3, Type: raft.LogCommand, Data: fmt.Appendf(nil, "entry %d", i)})
	}
	if err := old.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := old.SetUint64([]byte("CurrentTerm"), 4); err != nil {
		t.Fatal(err)
	}
	if err := old.SetUint64([]byte("LastVoteTerm"), 4); err != nil {
		t.Fatal(err)
	}
	if err := old.Set([]byte("LastVoteCand"), []byte("n2")); err != nil {
		t.Fatal(err)
	}
	old.Close()

	for range 2 { // the second open finds the WAL alone
		s, err := openLogStore(dir, hclog.NewNullLogger())
		if err != nil {
			t.Fatal(err)
		}
		first, _ := s.FirstIndex()
		last, _ := s.LastIndex()
		if first != 10 || last != 300 {
			t.Errorf("log holds [%d, %d], want [10, 300]", first, last)
		}
		var l raft.Log
		if err := s.GetLog(123, &l); err != nil || l.Term != 3 || !bytes.Equal(l.Data, []byte("entry 123")) {
			t.Errorf("entry 123: %+v, %v", l, err)
		}
		term, _ := s.GetUint64([]byte("CurrentTerm"))
		voteTerm, _ := s.GetUint64([]byte("LastVoteTerm"))
		cand, _ := s.Get([]byte("LastVoteCand"))
		if term != 4 || voteTerm != 4 || string(cand) != "n2" {
			t.Errorf("stable state: term %d, vote term %d, candidate %q", term, voteTerm, cand)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, legacyRaftDB+migratedSuffix)); err != nil {
		t.Errorf("raft.db not set aside: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, legacyRaftDB)); !os.IsNotExist(err) {
		t.Errorf("raft.db still in place: %v", err)
	}
}

// TestLogStoreRedoesInterruptedMigration starts the copy again when a
// crash left a partial WAL beside raft.db.
func TestLogStoreRedoesInterruptedMigration(t *testing.T) {
	dir := t.TempDir()
	old, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, legacyRaftDB), BoltOptions: &bbolt.Options{Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.StoreLogs([]*raft.Log{{Index: 1, Term: 1, Data: []byte("a")}, {Index: 2, Term: 1, Data: []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	old.Close()
	if err := os.MkdirAll(filepath.Join(dir, walDir+".tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, walDir+".tmp", "junk"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := openLogStore(dir, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if last, _ := s.LastIndex(); last != 2 {
		t.Errorf("last index %d, want 2", last)
	}
}

// TestLogStoreHidesTruncatedHead checks that entries a compaction removed
// are gone, though they still sit in the open segment file.
func TestLogStoreHidesTruncatedHead(t *testing.T) {
	s, err := openLogStore(t.TempDir(), hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var logs []*raft.Log
	for i := uint64(1); i <= 20; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1, Data: []byte("x")})
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 10); err != nil {
		t.Fatal(err)
	}
	var l raft.Log
	if err := s.GetLog(5, &l); err != raft.ErrLogNotFound {
		t.Errorf("entry 5 after compaction to 11: %v, want ErrLogNotFound", err)
	}
	if err := s.GetLog(11, &l); err != nil || l.Index != 11 {
		t.Errorf("entry 11: %+v, %v", l, err)
	}
}
