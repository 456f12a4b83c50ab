package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/junctionhq/junction/broker"
)

// replicatedLog is a partition log whose appends go through raft. The
// leader proposes each produce batch as one entry naming the offset it
// will land at and carrying the timestamps the leader stamped; every node
// appends it to its local log when it commits. Reads are local: a
// follower serves what it has applied.
type replicatedLog struct {
	n         *Node
	station   string
	partition uint32
	// local is the broker's log. Replacing it (a rebuild) holds both
	// localMu and the node's applyMu; reading it holds either.
	local   broker.PartitionLog
	localMu sync.RWMutex
	closed  bool // by the broker; guarded by localMu

	mu sync.Mutex
	// next is the offset the next proposal lands at; valid while term is
	// the raft term this node leads in.
	next uint64
	term uint64
}

var _ broker.PartitionLog = (*replicatedLog)(nil)

// WrapLog implements broker.Replicator.
func (n *Node) WrapLog(station string, partition uint32, local broker.PartitionLog) broker.PartitionLog {
	rl := &replicatedLog{n: n, station: station, partition: partition, local: local}
	n.logsMu.Lock()
	n.logs[logKey{station, partition}] = rl
	n.logsMu.Unlock()
	return rl
}

// lookup returns the open log of a station partition, or nil.
func (n *Node) lookup(station string, partition uint32) *replicatedLog {
	n.logsMu.Lock()
	defer n.logsMu.Unlock()
	return n.logs[logKey{station, partition}]
}

func (l *replicatedLog) Enqueue(ctx context.Context, recs []broker.Record) (broker.Appending, error) {
	if err := l.n.notLeader(); err != nil {
		return nil, err
	}
	if l.n.shorted.Load() {
		if err := l.n.refuseShort(l); err != nil {
			return nil, err
		}
	}
	now := l.n.cfg.Clock().UnixNano()
	stamped := make([]broker.Record, len(recs))
	for i, r := range recs {
		if r.Timestamp == 0 {
			r.Timestamp = now
		}
		stamped[i] = r
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.sync(); err != nil {
		return nil, err
	}
	base := l.next
	data := encodeAppend(l.station, l.partition, base, stamped)
	f := l.n.raft.Apply(data, l.n.cfg.ApplyTimeout)
	l.next += uint64(len(recs))
	return &proposal{l: l, f: f, base: base}, nil
}

// sync makes next the partition's next offset after every entry of
// earlier terms is applied, once per term this node leads in.
func (l *replicatedLog) sync() error {
	term := l.n.raft.CurrentTerm()
	if term == l.term && l.term != 0 {
		return nil
	}
	if err := l.n.raft.Barrier(l.n.cfg.ApplyTimeout).Error(); err != nil {
		return l.n.raftErr(err)
	}
	if l.n.raft.CurrentTerm() != term {
		return &broker.NotLeaderError{Leader: l.n.LeaderAPI()}
	}
	_, l.next = l.Bounds()
	l.term = term
	return nil
}

// invalidate makes the next proposal resynchronise: an entry failed, so
// the ones proposed after it do not land where they were meant to.
func (l *replicatedLog) invalidate() {
	l.mu.Lock()
	l.term = 0
	l.mu.Unlock()
}

// proposal is an append waiting for its raft entry to commit.
type proposal struct {
	l    *replicatedLog
	f    raft.ApplyFuture
	base uint64
}

func (p *proposal) Wait() (uint64, error) {
	if err := p.f.Error(); err != nil {
		p.l.invalidate()
		return 0, p.l.n.raftErr(err)
	}
	res, ok := p.f.Response().(appendResult)
	if !ok {
		p.l.invalidate()
		return 0, fmt.Errorf("cluster: unexpected response %T to an append", p.f.Response())
	}
	if res.err != nil {
		p.l.invalidate()
		if errors.Is(res.err, errOffsetConflict) {
			// Nothing was stored; the producer may retry at once.
			return 0, fmt.Errorf("cluster: append not stored after a leader change, retry: %w", res.err)
		}
		return 0, res.err
	}
	return res.base, nil
}

func (l *replicatedLog) Read(from uint64, maxBytes int) ([]broker.Record, error) {
	l.localMu.RLock()
	defer l.localMu.RUnlock()
	return l.local.Read(from, maxBytes)
}

func (l *replicatedLog) OffsetForTime(ts int64) (uint64, error) {
	l.localMu.RLock()
	defer l.localMu.RUnlock()
	return l.local.OffsetForTime(ts)
}

func (l *replicatedLog) Bounds() (start, next uint64) {
	l.localMu.RLock()
	defer l.localMu.RUnlock()
	return l.local.Bounds()
}

func (l *replicatedLog) State() broker.LogState {
	l.localMu.RLock()
	defer l.localMu.RUnlock()
	return l.local.State()
}

func (l *replicatedLog) Enforce(now time.Time, r broker.Retention, floor uint64) (int, error) {
	l.localMu.RLock()
	defer l.localMu.RUnlock()
	return l.local.Enforce(now, r, floor)
}

func (l *replicatedLog) Close() error {
	l.n.logsMu.Lock()
	if l.n.logs[logKey{l.station, l.partition}] == l {
		delete(l.n.logs, logKey{l.station, l.partition})
	}
	l.n.logsMu.Unlock()
	l.localMu.Lock()
	defer l.localMu.Unlock()
	l.closed = true
	return l.local.Close()
}

// Writable implements broker.Replicator: once per term it leads in, the
// node applies every entry of earlier terms (a barrier) before it takes a
// produce, so that the dedup windows hold every id already stored and a
// produce retried here after a leader change is recognised.
func (n *Node) Writable(ctx context.Context) error {
	if err := n.notLeader(); err != nil {
		return err
	}
	if n.repairing.Load() {
		// It is handing leadership over.
		return &broker.NotLeaderError{}
	}
	term := n.raft.CurrentTerm()
	if n.readyTerm.Load() == term {
		return nil
	}
	n.readyMu.Lock()
	defer n.readyMu.Unlock()
	if n.readyTerm.Load() == term {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := n.raft.Barrier(n.cfg.ApplyTimeout).Error(); err != nil {
		return n.raftErr(err)
	}
	if n.raft.CurrentTerm() != term {
		return &broker.NotLeaderError{Leader: n.LeaderAPI()}
	}
	if err := n.fsm.b.ReloadGroups(); err != nil {
		return fmt.Errorf("cluster: take over consumer groups: %w", err)
	}
	n.readyTerm.Store(term)
	return nil
}

// ReplicateStation implements broker.Replicator.
func (n *Node) ReplicateStation(ctx context.Context, c broker.StationChange) (broker.StationConfig, error) {
	if err := n.notLeader(); err != nil {
		return broker.StationConfig{}, err
	}
	if err := ctx.Err(); err != nil {
		return broker.StationConfig{}, err
	}
	data, err := encodeJSON(kindStation, c)
	if err != nil {
		return broker.StationConfig{}, err
	}
	resp, err := n.apply(data)
	if err != nil {
		return broker.StationConfig{}, err
	}
	cfg, _ := resp.(broker.StationConfig)
	return cfg, nil
}
