package cluster

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/junctionhq/junction/broker/meta"
)

// groupWrite is a write to the consumer group store (a kindGroups entry,
// JSON), applied on every node to its own metadata file.
type groupWrite struct {
	Op         string            `json:"op"` // put, delete or commit
	Station    string            `json:"station,omitempty"`
	Group      string            `json:"group,omitempty"`
	Value      []byte            `json:"value,omitempty"`
	Offsets    []meta.Offset     `json:"offsets,omitempty"`
	Deliveries []meta.Deliveries `json:"deliveries,omitempty"`
}

// groupStore is the replicated consumer group store: reads are local,
// writes go through the leader and are applied on every node.
type groupStore struct {
	n     *Node
	local meta.GroupStore
}

var _ meta.GroupStore = (*groupStore)(nil)

// GroupStore implements broker.Replicator.
func (n *Node) GroupStore(local meta.GroupStore) meta.GroupStore {
	n.groups = local
	return &groupStore{n: n, local: local}
}

func (s *groupStore) write(w groupWrite) error {
	if err := s.n.notLeader(); err != nil {
		return err
	}
	data, err := encodeJSON(kindGroups, w)
	if err != nil {
		return err
	}
	// Callers may hold a station's lock, which applying an earlier entry
	// (a station's deletion) can wait for: give up after ApplyTimeout
	// rather than wait for ever.
	f := s.n.raft.Apply(data, s.n.cfg.ApplyTimeout)
	done := make(chan struct{})
	go func() {
		f.Error()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(s.n.cfg.ApplyTimeout):
		return fmt.Errorf("%w: group store write not applied within %v", ErrOutcomeUnknown, s.n.cfg.ApplyTimeout)
	}
	if err := f.Error(); err != nil {
		return s.n.raftErr(err)
	}
	if err, ok := f.Response().(error); ok {
		return err
	}
	return nil
}

func (s *groupStore) PutGroup(station, group string, value []byte) error {
	return s.write(groupWrite{Op: "put", Station: station, Group: group, Value: value})
}

func (s *groupStore) DeleteGroup(station, group string) error {
	return s.write(groupWrite{Op: "delete", Station: station, Group: group})
}

func (s *groupStore) CommitOffsets(offsets []meta.Offset, deliveries ...meta.Deliveries) error {
	if len(offsets) == 0 && len(deliveries) == 0 {
		return nil
	}
	return s.write(groupWrite{Op: "commit", Offsets: offsets, Deliveries: deliveries})
}

func (s *groupStore) Groups(station string, fn func(group string, value []byte) error) error {
	return s.local.Groups(station, fn)
}

func (s *groupStore) DeliveryCounts(station, group string) ([]meta.DeliveryCount, error) {
	return s.local.DeliveryCounts(station, group)
}

func (s *groupStore) Offsets(station, group string) (map[uint32]uint64, error) {
	return s.local.Offsets(station, group)
}

// applyGroupWrite applies a kindGroups entry to the local store.
func (n *Node) applyGroupWrite(data []byte) error {
	var w groupWrite
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("%w: group write: %w", errBadEntry, err)
	}
	if n.groups == nil {
		return fmt.Errorf("cluster: no group store")
	}
	switch w.Op {
	case "put":
		return n.groups.PutGroup(w.Station, w.Group, w.Value)
	case "delete":
		return n.groups.DeleteGroup(w.Station, w.Group)
	case "commit":
		return n.groups.CommitOffsets(w.Offsets, w.Deliveries...)
	}
	return fmt.Errorf("%w: unknown group write %q", errBadEntry, w.Op)
}
