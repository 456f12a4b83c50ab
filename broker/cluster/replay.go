package cluster

import (
	"encoding/json"
	"fmt"

	"github.com/junctionhq/junction/broker"
)

// kindReplay is a write of dead-letter replay progress (replayWrite,
// JSON).
const kindReplay byte = 7

// replayWrite stores a dead-letter partition's replay progress: the
// broker writes it before and after every replayed batch, so a replay
// the leader was running when it failed resumes on the next one without
// producing a dead letter twice.
type replayWrite struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// replayLocal is this node's own replay store, which entries are applied
// to; *meta.Store is one.
type replayLocal interface {
	broker.ReplayStore
	Replays(fn func(key string, value []byte) error) error
	DeleteReplayKey(key string) error
}

// replayStore is the replicated replay store: reads are local, writes go
// through the leader and are applied on every node.
type replayStore struct {
	n     *Node
	local broker.ReplayStore
}

var _ broker.ReplayReplicator = (*Node)(nil)

// ReplayStore returns the cluster's replicated dead-letter replay store
// over local, this node's own, which committed writes are applied to.
// The broker calls it when it opens, before Start.
func (n *Node) ReplayStore(local broker.ReplayStore) broker.ReplayStore {
	n.replays = local
	return &replayStore{n: n, local: local}
}

func (s *replayStore) PutReplay(key string, value []byte) error {
	if err := s.n.notLeader(); err != nil {
		return err
	}
	data, err := encodeJSON(kindReplay, replayWrite{Key: key, Value: value})
	if err != nil {
		return err
	}
	_, err = s.n.apply(data)
	return err
}

func (s *replayStore) Replay(key string) ([]byte, error) { return s.local.Replay(key) }

// applyReplayWrite applies a kindReplay entry to the local store. An
// entry replayed after a restart writes a state the later entries then
// overwrite, as they did the first time.
func (n *Node) applyReplayWrite(data []byte) error {
	var w replayWrite
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("%w: replay write: %w", errBadEntry, err)
	}
	if w.Key == "" {
		return fmt.Errorf("%w: replay write without a key", errBadEntry)
	}
	if n.replays == nil {
		return fmt.Errorf("cluster: no replay store")
	}
	return n.replays.PutReplay(w.Key, w.Value)
}

// snapshotReplays lists the replay store for a snapshot.
func (n *Node) snapshotReplays() ([]manifestRecord, error) {
	l, ok := n.replays.(replayLocal)
	if !ok {
		return nil, nil
	}
	var out []manifestRecord
	if err := l.Replays(func(key string, v []byte) error {
		out = append(out, manifestRecord{Key: key, Value: append([]byte(nil), v...)})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("cluster: snapshot replay progress: %w", err)
	}
	return out, nil
}

// restoreReplays makes the local replay store hold what a snapshot
// lists, and nothing else. A manifest without the section (written
// before replay progress was replicated) leaves the store as it is.
func (n *Node) restoreReplays(list []manifestRecord) error {
	l, ok := n.replays.(replayLocal)
	if !ok || list == nil {
		return nil
	}
	want := make(map[string]bool, len(list))
	for _, r := range list {
		if err := l.PutReplay(r.Key, r.Value); err != nil {
			return fmt.Errorf("cluster: restore replay progress %q: %w", r.Key, err)
		}
		want[r.Key] = true
	}
	var gone []string
	if err := l.Replays(func(key string, _ []byte) error {
		if !want[key] {
			gone = append(gone, key)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("cluster: restore replay progress: %w", err)
	}
	for _, key := range gone {
		if err := l.DeleteReplayKey(key); err != nil {
			return fmt.Errorf("cluster: restore: drop replay progress %q: %w", key, err)
		}
	}
	return nil
}
