package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/raft"

	"github.com/junctionhq/junction/broker"
)

// fsm applies committed entries to the local broker. Its state is the
// broker's own files (station metadata and partition logs) plus the
// members' addresses; an append entry names the offset it must land at,
// so replaying entries a restart finds already applied changes nothing.
type fsm struct {
	n *Node
	b *broker.Broker
	// gaps holds, by partition, the end of the local log at which an
	// append landing past it was last logged, so that it is logged once.
	gaps map[logKey]uint64
}

var _ raft.BatchingFSM = (*fsm)(nil)

// appendResult is the response to an append entry.
type appendResult struct {
	base uint64
	err  error
}

// errOffsetConflict is matched by the response to an append entry that
// did not land: the partition's next offset was not the entry's base (an
// earlier entry of a former leader never committed). Nothing was stored.
var errOffsetConflict = errors.New("offset conflict")

func (f *fsm) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies a batch of committed entries: the appends are queued
// on their partitions' logs together, so each log writes and fsyncs them
// as a group, and waited for before anything else is applied.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	f.n.applyMu.RLock()
	defer f.n.applyMu.RUnlock()
	out := make([]any, len(logs))
	type queued struct {
		i         int
		station   string
		partition uint32
		batch     []byte
		base      uint64
		p         broker.Appending
	}
	var pending []queued
	expect := make(map[logKey]uint64)
	flush := func() {
		for _, q := range pending {
			base, err := q.p.Wait()
			switch {
			case err != nil:
				f.n.log.Error("apply an append: the local log failed; this node's copy may now lag the cluster", "index", logs[q.i].Index, "err", err)
				out[q.i] = appendResult{err: err}
			case base != q.base:
				err := fmt.Errorf("cluster: append landed at offset %d, not %d", base, q.base)
				f.n.log.Error("apply an append", "index", logs[q.i].Index, "err", err)
				out[q.i] = appendResult{err: err}
			default:
				out[q.i] = appendResult{base: base}
				f.b.ReplicatedBatch(q.station, q.partition, q.batch)
			}
		}
		pending = pending[:0]
		clear(expect)
	}
	for i, l := range logs {
		if l.Type != raft.LogCommand || len(l.Data) == 0 {
			continue
		}
		if l.Data[0] != kindAppend {
			flush()
			out[i] = f.applyOther(l)
			continue
		}
		e, err := decodeAppend(l.Data)
		if err != nil {
			f.n.log.Error("skip an undecodable entry", "index", l.Index, "err", err)
			out[i] = appendResult{err: err}
			continue
		}
		rl := f.n.lookup(e.station, e.partition)
		if rl == nil {
			out[i] = appendResult{err: fmt.Errorf("station %q partition %d: %w", e.station, e.partition, broker.ErrStationNotFound)}
			continue
		}
		k := logKey{e.station, e.partition}
		next, ok := expect[k]
		if !ok {
			_, next = rl.local.Bounds()
		}
		if e.base > next {
			if s, ok := f.n.shortOf(k); ok && s.rl == rl && next < s.target {
				// The partition is short of the last snapshot: fetch
				// what it lacks before the entry after it (short.go).
				flush()
				if err := f.n.fillShort(s); err != nil && !errors.Is(err, errNoSource) {
					out[i] = appendResult{err: err}
					continue
				}
				_, next = rl.local.Bounds()
			}
		}
		if e.base != next {
			// Either a replay of an entry this log already holds, or an
			// entry proposed after one that never committed: neither is
			// stored, and the leader resynchronises.
			if logged, ok := f.gaps[k]; e.base > next && (!ok || logged != next) {
				f.n.log.Warn("an append lands past this node's end of the partition: its copy lacks the offsets between, and appends after them are not stored here",
					"index", l.Index, "station", e.station, "partition", e.partition, "from_offset", next, "to_offset", e.base)
				if f.gaps == nil {
					f.gaps = make(map[logKey]uint64)
				}
				f.gaps[k] = next
			}
			out[i] = appendResult{err: fmt.Errorf("station %q partition %d: entry for offset %d, log at %d: %w", e.station, e.partition, e.base, next, errOffsetConflict)}
			continue
		}
		p, err := enqueue(rl.local, e)
		if err != nil {
			f.n.log.Error("apply an append: the local log refused it", "index", l.Index, "station", e.station, "partition", e.partition, "err", err)
			out[i] = appendResult{err: err}
			continue
		}
		expect[k] = next + uint64(e.count)
		pending = append(pending, queued{i: i, station: e.station, partition: e.partition, batch: e.batch, base: e.base, p: p})
	}
	flush()
	if len(logs) > 0 {
		f.n.fsmApplied.Store(logs[len(logs)-1].Index)
	}
	return out
}

// enqueue queues an append entry's records on a local log, as the
// leader encoded them when the log takes encoded batches.
func enqueue(local broker.PartitionLog, e appendEntry) (broker.Appending, error) {
	if b, ok := local.(broker.BatchAppender); ok {
		return b.EnqueueBatch(context.Background(), e.batch)
	}
	recs, err := e.records()
	if err != nil {
		return nil, err
	}
	return local.Enqueue(context.Background(), recs)
}

// applyOther applies an entry other than an append.
func (f *fsm) applyOther(l *raft.Log) any {
	data := l.Data[1:]
	switch l.Data[0] {
	case kindStation:
		var c broker.StationChange
		if err := json.Unmarshal(data, &c); err != nil {
			return fmt.Errorf("%w: station change: %w", errBadEntry, err)
		}
		cfg, err := f.b.ApplyStationChange(context.Background(), c)
		if err != nil {
			if !replayable(err) {
				f.n.log.Warn("station change failed", "op", c.Op, "index", l.Index, "err", err)
			}
			return err
		}
		return cfg
	case kindNode:
		var info nodeInfo
		if err := json.Unmarshal(data, &info); err != nil {
			return fmt.Errorf("%w: node: %w", errBadEntry, err)
		}
		return f.n.setNodes(func(m map[string]nodeInfo) { m[info.ID] = info })
	case kindGroups:
		if err := f.n.applyGroupWrite(data); err != nil {
			f.n.log.Warn("group store write failed", "index", l.Index, "err", err)
			return err
		}
		return nil
	case kindConnectors:
		if err := f.n.applyConnectorWrite(data); err != nil {
			f.n.log.Warn("connector store write failed", "index", l.Index, "err", err)
			return err
		}
		return nil
	case kindSchema:
		return f.applySchemaChange(data, l.Index)
	case kindAuth:
		if err := f.n.applyAuthWrite(data, l.Index); err != nil {
			f.n.log.Warn("auth store write failed", "index", l.Index, "err", err)
			return err
		}
		return nil
	case kindReplay:
		if err := f.n.applyReplayWrite(data); err != nil {
			f.n.log.Warn("replay progress write failed", "index", l.Index, "err", err)
			return err
		}
		return nil
	case kindForget:
		id := string(data)
		return f.n.setNodes(func(m map[string]nodeInfo) { delete(m, id) })
	}
	return fmt.Errorf("%w: unknown kind %d", errBadEntry, l.Data[0])
}

// replayable reports errors a replayed station change meets when the
// broker already holds its effect.
func replayable(err error) bool {
	return errors.Is(err, broker.ErrStationExists) || errors.Is(err, broker.ErrStationNotFound)
}

// manifest is the FSM's snapshot: what a node must hold to be at the
// snapshot's index. It points at the data instead of copying it: a
// follower restoring it fetches what its logs lack from the leader.
type manifest struct {
	Nodes    []nodeInfo        `json:"nodes"`
	Stations []manifestStation `json:"stations"`
	// Connectors is the connector store, records and checkpoints.
	Connectors []manifestConnector `json:"connectors,omitempty"`
	// Schemas is the schema registry, every version of every schema.
	Schemas []broker.SchemaChange `json:"schemas,omitempty"`
	// Auth is the auth store: users and tokens as stored (hashed).
	Auth *manifestAuth `json:"auth,omitempty"`
	// Groups is the consumer group store: records, committed offsets and
	// delivery counts.
	Groups []manifestGroup `json:"groups,omitempty"`
	// Replays is dead-letter replay progress, by key.
	Replays []manifestRecord `json:"replays,omitempty"`
}

type manifestStation struct {
	Config broker.StationConfig `json:"config"`
	// Next is every partition's next offset.
	Next []uint64 `json:"next"`
}

// Snapshot captures the manifest. Raft calls it between applies, so the
// station set and offsets are those of the snapshot's index.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	if short := f.n.shortLogs(); len(short) > 0 {
		// Its offsets would hide from the next start what the
		// partitions lack (short.go); raft tries again later.
		return nil, fmt.Errorf("cluster: no snapshot while station %q partition %d is short of the last one", short[0].rl.station, short[0].rl.partition)
	}
	var m manifest
	f.n.nodesMu.Lock()
	for _, info := range f.n.nodes {
		m.Nodes = append(m.Nodes, info)
	}
	f.n.nodesMu.Unlock()
	cfgs, _ := f.b.Stations()
	names := make([]string, 0, len(cfgs))
	var durable []logTarget
	for _, c := range cfgs {
		names = append(names, c.Name)
		next, err := f.b.NextOffsets(c.Name)
		if err != nil {
			return nil, fmt.Errorf("cluster: snapshot station %q: %w", c.Name, err)
		}
		m.Stations = append(m.Stations, manifestStation{Config: c, Next: next})
		durable = append(durable, f.n.logTargets(c.Name, next)...)
	}
	var err error
	if m.Connectors, err = f.n.snapshotConnectors(); err != nil {
		return nil, err
	}
	if m.Schemas, err = f.b.SchemaChanges(); err != nil {
		return nil, fmt.Errorf("cluster: snapshot schemas: %w", err)
	}
	if m.Auth, err = f.n.snapshotAuth(); err != nil {
		return nil, err
	}
	if m.Groups, err = f.n.snapshotGroups(names); err != nil {
		return nil, err
	}
	if m.Replays, err = f.n.snapshotReplays(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &snapshot{n: f.n, manifest: b, durable: durable}, nil
}

// snapshot is a manifest and the partition logs it vouches for.
type snapshot struct {
	n        *Node
	manifest []byte
	durable  []logTarget
}

// Persist makes every partition log durable up to the manifest's offsets
// before it stores the manifest: raft forgets the entries behind a
// snapshot once Persist returns, and the segment logs do not fsync as
// they apply (durable.go).
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.n.syncLogs(context.Background(), s.durable); err != nil {
		sink.Cancel()
		s.n.log.Error("snapshot: the partition logs could not be made durable; the raft log keeps its entries", "err", err)
		return err
	}
	if _, err := sink.Write(s.manifest); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() {}

// maxManifestBytes bounds a snapshot manifest read from the leader.
const maxManifestBytes = 256 << 20

// Restore brings this node to a snapshot the leader sent: stations it
// lacks are created, those gone are deleted, those it has take the
// snapshot's settings, and each partition fetches the records it lacks
// from the leader.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	f.n.applyMu.RLock()
	defer f.n.applyMu.RUnlock()
	b, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return fmt.Errorf("cluster: read snapshot: %w", err)
	}
	if len(b) > maxManifestBytes {
		return fmt.Errorf("cluster: snapshot manifest over %d bytes", maxManifestBytes)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("cluster: decode snapshot: %w", err)
	}
	if err := f.n.setNodes(func(nodes map[string]nodeInfo) {
		clear(nodes)
		for _, info := range m.Nodes {
			nodes[info.ID] = info
		}
	}); err != nil {
		return err
	}
	fetched, err := f.n.catchUp(context.Background(), f.b, m)
	if err != nil {
		return err
	}
	// Raft forgets its entries behind the snapshot once Restore returns.
	var durable []logTarget
	for _, s := range m.Stations {
		durable = append(durable, f.n.logTargets(s.Config.Name, s.Next)...)
	}
	if err := f.n.syncLogs(context.Background(), durable); err != nil {
		return fmt.Errorf("cluster: restore: %w", err)
	}
	if err := f.n.restoreConnectors(m.Connectors); err != nil {
		return err
	}
	if err := f.n.restoreSchemas(f.b, m); err != nil {
		return err
	}
	if err := f.n.restoreAuth(m.Auth); err != nil {
		return err
	}
	names := make([]string, 0, len(m.Stations))
	for _, s := range m.Stations {
		names = append(names, s.Config.Name)
	}
	if err := f.n.restoreGroups(names, m.Groups); err != nil {
		return err
	}
	if err := f.n.restoreReplays(m.Replays); err != nil {
		return err
	}
	f.n.log.Info("installed a snapshot from the leader", "stations", len(m.Stations), "groups", len(m.Groups), "records_fetched", fetched)
	return nil
}
