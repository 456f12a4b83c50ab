package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/junctionhq/junction/broker/meta"
	"github.com/junctionhq/junction/broker/seglog"
)

// ErrNotLeader is matched by errors of a change refused because this node
// is not its cluster's leader; the error is a *NotLeaderError naming the
// leader when one is known.
var ErrNotLeader = errors.New("not the cluster leader")

// ErrOutcomeUnknown is matched by errors of changes that may or may not
// have been applied: a cluster node lost the leadership while replicating
// them. Retry produces with message ids so the station's dedup keeps one
// copy.
var ErrOutcomeUnknown = errors.New("outcome unknown")

// NotLeaderError refuses a change on a follower.
type NotLeaderError struct {
	// Leader is the API address of the leader, empty during an election.
	Leader string
}

func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return "not the cluster leader, and no leader is known (an election may be under way)"
	}
	return "not the cluster leader; the leader is " + e.Leader
}

// Is makes a NotLeaderError match ErrNotLeader.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// Replicator makes a broker one node of a cluster. Station changes go
// through it to every node instead of straight to the local metadata file,
// and each partition's local log is wrapped in one that replicates appends.
// The broker calls it; the replicator applies what it agreed on through
// ApplyStationChange and the local logs it was handed. A broker without one
// is a single node.
type Replicator interface {
	// WrapLog returns the log that stands for a station partition whose
	// local storage is local. Closing it closes local.
	WrapLog(station string, partition uint32, local PartitionLog) PartitionLog
	// ReplicateStation agrees on a validated station change with the
	// cluster and returns once it is applied here, with what
	// ApplyStationChange returned.
	ReplicateStation(ctx context.Context, c StationChange) (StationConfig, error)
	// Writable returns nil when this node may take produces: it leads and
	// has applied everything earlier leaders committed, so its dedup
	// windows hold every id stored so far. It is called before a
	// produce's ids are looked up.
	Writable(ctx context.Context) error
	// GroupStore returns the store consumer groups and their offsets are
	// kept in, given the local one: the cluster's replicated store, whose
	// writes the leader agrees on and every node applies to its own. A
	// node that becomes leader calls ReloadGroups once it applied every
	// earlier write.
	GroupStore(local meta.GroupStore) meta.GroupStore
}

// leading returns nil when consumer groups may be used here: always on a
// single node, only on the leader of a cluster (a NotLeaderError
// elsewhere), since each group lives on the leader.
func (b *Broker) leading(ctx context.Context) error {
	if r := b.opts.Replicator; r != nil {
		return r.Writable(ctx)
	}
	return nil
}

// ReloadGroups rebuilds every consumer group from the group store: its
// committed offsets and delivery counts, with nothing pending. A cluster
// node calls it when it becomes leader, so that groups resume where the
// previous leader last checkpointed them; their unacknowledged messages
// are delivered again.
func (b *Broker) ReloadGroups() error {
	sts := b.stationList()
	var errs []error
	for _, st := range sts {
		st.mu.Lock()
		if st.closed {
			st.mu.Unlock()
			continue
		}
		old := st.groups
		st.groups = make(map[string]*group)
		for _, g := range old {
			g.mu.Lock()
			g.closed = true
			g.track(-g.tracked)
			g.wake()
			g.mu.Unlock()
		}
		if err := st.loadGroups(); err != nil {
			errs = append(errs, fmt.Errorf("station %q: reload groups: %w", st.name, err))
		}
		st.mu.Unlock()
	}
	return errors.Join(errs...)
}

// StationOp is the kind of a StationChange.
type StationOp string

// Station changes.
const (
	OpCreateStation StationOp = "create"
	OpUpdateStation StationOp = "update"
	OpDeleteStation StationOp = "delete"
	// OpAttachSchema attaches Schema to station Name.
	OpAttachSchema StationOp = "attach-schema"
	// OpDetachSchema detaches station Name's schema.
	OpDetachSchema StationOp = "detach-schema"
)

// StationChange is a change to the set of stations or their settings, as
// replicated through a cluster. It is JSON-encodable.
type StationChange struct {
	Op StationOp `json:"op"`
	// Config is the station to create, defaults applied and CreatedAt set.
	Config StationConfig `json:"config,omitzero"`
	// Name and Update are the station and settings to change.
	Name   string         `json:"name,omitempty"`
	Update *StationUpdate `json:"update,omitempty"`
	// Force deletes a station other stations use for dead letters.
	Force bool `json:"force,omitempty"`
	// Schema is the schema to attach.
	Schema *StationSchema `json:"schema,omitempty"`
}

// ApplyStationChange applies a change the cluster agreed on to this node,
// bypassing the Replicator.
func (b *Broker) ApplyStationChange(ctx context.Context, c StationChange) (StationConfig, error) {
	switch c.Op {
	case OpCreateStation:
		return b.createStationLocal(ctx, c.Config)
	case OpUpdateStation:
		if c.Update == nil {
			return StationConfig{}, fmt.Errorf("station %q: update without settings", c.Name)
		}
		return b.updateStationLocal(ctx, c.Name, *c.Update)
	case OpDeleteStation:
		return StationConfig{}, b.deleteStationLocal(ctx, c.Name, c.Force)
	case OpAttachSchema:
		if c.Schema == nil {
			return StationConfig{}, fmt.Errorf("station %q: attach without a schema", c.Name)
		}
		return b.attachSchemaLocal(c.Name, *c.Schema)
	case OpDetachSchema:
		return b.detachSchemaLocal(c.Name)
	}
	return StationConfig{}, fmt.Errorf("unknown station change %q", c.Op)
}

// checkReplicable refuses station settings a cluster cannot keep: memory
// storage does not survive the restart a replica replays from, and a
// replica's log must be durable before raft forgets the entries behind it.
func checkReplicable(cfg StationConfig) error {
	if cfg.Storage == StorageMemory {
		return fieldErr("station.storage", "memory stations are not supported in a cluster")
	}
	if cfg.Fsync != FsyncAlways {
		return fieldErr("station.fsync", "a cluster stores every station with fsync %q, got %q", FsyncAlways, cfg.Fsync)
	}
	return nil
}

// Replicated tells the broker that a station partition's log gained recs
// outside Produce (a replica applied them): their message ids join the
// station's dedup window, unless a produce on this node already holds
// them, and consumers waiting on the station wake up.
func (b *Broker) Replicated(stationName string, partition uint32, recs []Record) {
	st, err := b.station(stationName)
	if err != nil {
		return
	}
	if window := st.config().DedupWindow; window > 0 {
		now := b.now()
		for _, r := range recs {
			for _, h := range r.Headers {
				if h.Key == HeaderMessageID && len(h.Value) <= MaxMessageIDBytes {
					st.dedup.note(string(h.Value), ProduceResult{Partition: partition, Offset: r.Offset}, time.Unix(0, r.Timestamp).Add(window), window, now)
				}
			}
		}
	}
	st.notify()
}

// ReplicatedBatch is Replicated for records a replica stored as the
// encoded batch it was handed: it decodes them only for a station that
// keeps a dedup window.
func (b *Broker) ReplicatedBatch(stationName string, partition uint32, batch []byte) {
	var recs []Record
	if st, err := b.station(stationName); err == nil && st.config().DedupWindow > 0 {
		recs, _, _ = seglog.DecodeBatch(batch) // the log verified it as it stored it
	}
	b.Replicated(stationName, partition, recs)
}

// note files a stored id unless the index holds it already (stored, or
// claimed by a produce in flight).
func (d *dedupIndex) note(id string, r ProduceResult, expires time.Time, window time.Duration, now time.Time) {
	if !expires.After(now) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.lookup(id, now); ok {
		return
	}
	done := make(chan struct{})
	close(done)
	d.add(&dedupEntry{id: id, result: r, expires: expires, done: done}, window, now)
}
