package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/migrate"
	"go.etcd.io/bbolt"
)

// The raft log and raft's own state (term, vote) live in a write-ahead
// log under DATA/raft/wal (hashicorp/raft-wal): 64 MiB segment files,
// one write and one fsync per batch of entries, a checksum on every
// commit, a torn tail dropped on open, and compaction by deleting whole
// segment files.
//
// Earlier releases kept them in DATA/raft/raft.db (raft-boltdb). A node
// that finds raft.db and no wal copies every entry and raft's state into
// a new WAL (built in wal.tmp and renamed into place once complete, so a
// crash mid-way starts the copy again) and renames raft.db to
// raft.db.migrated, which the operator may delete once the node runs.
const (
	walDir         = "wal"
	legacyRaftDB   = "raft.db"
	migratedSuffix = ".migrated"
)

// The keys raft keeps in its StableStore: two numbers (whose encoding
// differs between stores) and a server id.
var (
	raftStableUint64s = [][]byte{[]byte("CurrentTerm"), []byte("LastVoteTerm")}
	raftStableBytes   = []byte("LastVoteCand")
)

// logStore is the raft log and stable store of a node.
type logStore interface {
	raft.LogStore
	raft.StableStore
	io.Closer
}

// openLogStore opens (creating, or migrating from raft.db) the raft log
// under dir.
func openLogStore(dir string, hlog hclog.Logger) (logStore, error) {
	walPath := filepath.Join(dir, walDir)
	legacy := filepath.Join(dir, legacyRaftDB)
	_, err := os.Stat(legacy)
	hasLegacy := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	_, err = os.Stat(walPath)
	hasWAL := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	switch {
	case hasLegacy && !hasWAL:
		if err := migrateBolt(legacy, walPath, hlog); err != nil {
			return nil, fmt.Errorf("cluster: move the raft log from %s to %s: %w", legacy, walPath, err)
		}
		fallthrough
	case hasLegacy:
		// The WAL is complete: set the old file aside.
		if err := os.Rename(legacy, legacy+migratedSuffix); err != nil {
			return nil, fmt.Errorf("cluster: set aside %s: %w", legacy, err)
		}
		hlog.Warn("moved the raft log to the write-ahead log; the old file can be deleted", "wal", walPath, "old", legacy+migratedSuffix)
	}
	if err := os.MkdirAll(walPath, 0o755); err != nil {
		return nil, fmt.Errorf("cluster: create %s: %w", walPath, err)
	}
	w, err := openWAL(walPath, hlog)
	if err != nil {
		return nil, fmt.Errorf("cluster: open raft log %s: %w", walPath, err)
	}
	return w, nil
}

// walStore is a WAL that closes its metadata file too (wal.WAL.Close
// leaves it open, so the directory could not be opened again).
type walStore struct {
	*wal.WAL
	meta *metadb.BoltMetaDB
}

func openWAL(dir string, hlog hclog.Logger) (*walStore, error) {
	meta := &metadb.BoltMetaDB{}
	w, err := wal.Open(dir, wal.WithLogger(hlog), wal.WithMetaStore(meta))
	if err != nil {
		meta.Close()
		return nil, err
	}
	return &walStore{WAL: w, meta: meta}, nil
}

// GetLog reads an entry, refusing those below the first index: the WAL
// (v0.4.2) still serves entries a head truncation removed while their
// segment file is the open one, which would have raft send a follower
// entries it compacted instead of a snapshot.
func (s *walStore) GetLog(index uint64, l *raft.Log) error {
	first, err := s.WAL.FirstIndex()
	if err != nil {
		return err
	}
	if index < first {
		return raft.ErrLogNotFound
	}
	return s.WAL.GetLog(index, l)
}

// Close closes the log, then its metadata file.
func (s *walStore) Close() error {
	return errors.Join(s.WAL.Close(), s.meta.Close())
}

// migrateBolt copies the raft log and raft's state from the raft-boltdb
// file at legacy into a new WAL at walPath.
func migrateBolt(legacy, walPath string, hlog hclog.Logger) error {
	tmp := walPath + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	src, err := raftboltdb.New(raftboltdb.Options{Path: legacy, BoltOptions: &bbolt.Options{Timeout: time.Second, ReadOnly: true}})
	if err != nil {
		return fmt.Errorf("open %s: %w", legacy, err)
	}
	defer src.Close()
	dst, err := openWAL(tmp, hlog)
	if err != nil {
		return err
	}
	if err := copyRaftState(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, walPath); err != nil {
		return err
	}
	return syncDir(filepath.Dir(walPath))
}

// copyRaftState copies every log entry and raft's stable keys from src
// to the empty dst.
func copyRaftState(dst, src logStore) error {
	last, err := src.LastIndex()
	if err != nil {
		return err
	}
	if last > 0 {
		if err := migrate.CopyLogs(context.Background(), dst, src, 4<<20, nil); err != nil {
			return err
		}
	}
	for _, k := range raftStableUint64s {
		v, err := src.GetUint64(k)
		if err != nil && !errors.Is(err, raftboltdb.ErrKeyNotFound) {
			return fmt.Errorf("read %s: %w", k, err)
		}
		if v == 0 {
			continue
		}
		if err := dst.SetUint64(k, v); err != nil {
			return fmt.Errorf("write %s: %w", k, err)
		}
	}
	v, err := src.Get(raftStableBytes)
	if err != nil && !errors.Is(err, raftboltdb.ErrKeyNotFound) {
		return fmt.Errorf("read %s: %w", raftStableBytes, err)
	}
	if len(v) > 0 {
		if err := dst.Set(raftStableBytes, v); err != nil {
			return fmt.Errorf("write %s: %w", raftStableBytes, err)
		}
	}
	return nil
}
