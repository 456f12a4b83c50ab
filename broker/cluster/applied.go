package cluster

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// appliedIndex is the raft index of the last entry of one kind applied to
// a local store, kept in a file under DATA/raft. Entries at or below it
// were applied before a restart and are skipped rather than replayed:
// replaying a store's writes from the start would bring back, for a
// moment, what later writes removed (a revoked token, a deleted schema).
// It is used from the FSM's goroutine only.
type appliedIndex struct {
	path string
	last uint64
}

// applied returns the applied index of the store called name, read from
// its file on first use.
func (n *Node) applied(name string) *appliedIndex {
	if a := n.appliedIdx[name]; a != nil {
		return a
	}
	a := &appliedIndex{path: filepath.Join(n.cfg.DataDir, "raft", name+"-applied")}
	if b, err := os.ReadFile(a.path); err == nil {
		if a.last, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err != nil {
			n.log.Warn("unreadable index of the last write applied; replaying every write the raft log holds", "path", a.path, "err", err)
			a.last = 0
		}
	}
	if n.appliedIdx == nil {
		n.appliedIdx = make(map[string]*appliedIndex)
	}
	n.appliedIdx[name] = a
	return a
}

// done reports whether the entry at index was applied already.
func (a *appliedIndex) done(index uint64) bool { return index <= a.last }

// advance records that the entry at index was applied. Failing to record
// it only means applying it again after a restart.
func (a *appliedIndex) advance(n *Node, index uint64) {
	a.last = index
	if err := writeFileSync(a.path, []byte(strconv.FormatUint(index, 10))); err != nil {
		n.log.Warn("record the last write applied; it will be applied again after a restart", "path", a.path, "index", index, "err", err)
	}
}
