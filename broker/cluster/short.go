package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/raft"

	"github.com/junctionhq/junction/broker"
)

// A node can start with partitions that hold fewer records than its last
// snapshot: it crashed after raft stored a snapshot the leader sent but
// before the FSM had fetched the records the snapshot vouches for, or a
// partition's files lost records below what a snapshot had synced. Raft
// replays only the entries after that snapshot, so nothing in the raft log
// refills them, and every later append to such a partition lands past its
// end. Such a node is short, and recovers by itself:
//
//  1. Before raft starts, it compares every partition with the last
//     snapshot (findShort). A short node does not vote and does not lead,
//     as a damaged one (repair.go): its transport refuses votes and
//     leadership transfers, it hands leadership over if it has it, has
//     the leader demote it to a non-voter when a first attempt to fetch
//     the records fails, and a produce to a short partition is refused
//     (ErrShortPartition) rather than given offsets the cluster
//     acknowledged already.
//  2. It fetches each partition's missing records, up to the snapshot's
//     offset, from the leader's copy (ReadPartition on the cluster port):
//     in the background as soon as a leader is known, or, when an
//     append entry lands past the partition's end, before that entry is
//     applied, so that no committed entry is refused for want of the
//     records before it. A partition filled is synced before it counts.
//  3. With nothing short or damaged left, it is made a voter again.
//
// Records are only ever copied from a member that holds them at the same
// offsets; nothing is invented or dropped. Offsets above the snapshot's
// are refilled by raft's replay as before.

// ErrShortPartition is matched by the error of a produce to a partition
// that holds fewer records than the last snapshot, on a leader that has
// not fetched them yet: proposing at its own end would give offsets the
// cluster already acknowledged to other records.
var ErrShortPartition = errors.New("the partition holds fewer records than the cluster's last snapshot and is fetching them from another member")

// errNoSource is matched when no other member is known to fetch
// records from.
var errNoSource = errors.New("no other member known to fetch from")

// refuseShort returns ErrShortPartition when l is short of the last
// snapshot.
func (n *Node) refuseShort(l *replicatedLog) error {
	s, ok := n.shortOf(logKey{l.station, l.partition})
	if !ok || s.rl != l {
		return nil
	}
	if _, have := l.Bounds(); have >= s.target {
		return nil
	}
	return fmt.Errorf("cluster: station %q partition %d: %w", l.station, l.partition, ErrShortPartition)
}

// shortRetry is how long filling a partition waits before it asks the
// members again after none could give it the records.
const shortRetry = 500 * time.Millisecond

// shortLog is a partition short of the last snapshot, and the offset it
// must reach.
type shortLog struct {
	rl     *replicatedLog
	target uint64
}

// findShort records, before raft starts, every partition that holds
// fewer records than the last snapshot this node stored, and reports
// whether there is any.
func (n *Node) findShort(b *broker.Broker) bool {
	metas, err := n.snaps.List()
	if err != nil || len(metas) == 0 {
		return false
	}
	_, rc, err := n.snaps.Open(metas[0].ID)
	if err != nil {
		n.log.Warn("read the last snapshot to check the partitions against it", "snapshot", metas[0].ID, "err", err)
		return false
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	var m manifest
	if err == nil {
		err = json.Unmarshal(data, &m)
	}
	if err != nil {
		n.log.Warn("read the last snapshot to check the partitions against it", "snapshot", metas[0].ID, "err", err)
		return false
	}
	n.shortMu.Lock()
	defer n.shortMu.Unlock()
	for _, s := range m.Stations {
		cfg, _, err := b.Station(s.Config.Name)
		if err != nil || !cfg.CreatedAt.Equal(s.Config.CreatedAt) {
			continue // deleted (or recreated) by an entry after the snapshot
		}
		for p, want := range s.Next {
			rl := n.lookup(s.Config.Name, uint32(p))
			if rl == nil {
				continue
			}
			if _, have := rl.Bounds(); have < want {
				n.log.Error("a partition holds fewer records than the last snapshot; this node will not vote or lead until it has fetched them from the leader",
					"station", s.Config.Name, "partition", p, "next_offset", have, "snapshot_next_offset", want, "snapshot", metas[0].ID)
				if n.short == nil {
					n.short = make(map[logKey]shortLog)
				}
				n.short[logKey{s.Config.Name, uint32(p)}] = shortLog{rl: rl, target: want}
			}
		}
	}
	return len(n.short) > 0
}

// shortLogs returns the partitions still short of the snapshot, and
// forgets those no longer short: filled, or closed (their station
// deleted or recreated).
func (n *Node) shortLogs() []shortLog {
	n.shortMu.Lock()
	defer n.shortMu.Unlock()
	var out []shortLog
	for k, s := range n.short {
		if n.lookup(k.station, k.partition) != s.rl {
			delete(n.short, k)
			continue
		}
		if _, have := s.rl.Bounds(); have >= s.target {
			delete(n.short, k)
			continue
		}
		out = append(out, s)
	}
	return out
}

// shortOf returns the offset the partition k must reach, and whether it
// is short of it.
func (n *Node) shortOf(k logKey) (shortLog, bool) {
	n.shortMu.Lock()
	defer n.shortMu.Unlock()
	s, ok := n.short[k]
	return s, ok
}

// fillShort fetches the records the short partition s lacks up to its
// target from the leader (or, when this node leads or the leader cannot
// give them, from another member), and makes them durable. It tries
// again until it has them, the node closes, or no other member is known
// (a cluster of one, whose lost records nothing can give back): the FSM calls it before it
// applies an append past the partition's end, and may apply nothing
// more to the partition until then. The node's applyMu is held (read).
func (n *Node) fillShort(s shortLog) error {
	ctx, cancel := n.untilClosed(context.Background(), 0)
	defer cancel()
	logged := false
	for {
		err := n.fillOnce(ctx, s)
		if err == nil {
			return nil
		}
		if errors.Is(err, errNoSource) {
			// A cluster of one: nothing holds the records.
			return err
		}
		if ctx.Err() != nil {
			return broker.ErrClosed
		}
		if !logged {
			n.log.Warn("fetch the records a partition lacks; trying again", "station", s.rl.station, "partition", s.rl.partition, "err", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			return broker.ErrClosed
		case <-time.After(shortRetry):
		}
	}
}

// fillOnce makes one pass over the members that may hold the records.
func (n *Node) fillOnce(ctx context.Context, s shortLog) error {
	n.fillMu.Lock()
	defer n.fillMu.Unlock()
	rl := s.rl
	rl.localMu.RLock()
	defer rl.localMu.RUnlock()
	if rl.closed {
		return nil
	}
	_, have := rl.local.Bounds()
	if have >= s.target {
		return nil
	}
	var errs []error
	for _, addr := range n.fillSources() {
		k, err := copyRecords(ctx, n.peers, addr, rl.station, rl.partition, rl.local, s.target, func(recs []broker.Record) {
			n.fsm.b.Replicated(rl.station, rl.partition, recs)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("from %s: %w", addr, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if sy, ok := rl.local.(broker.Syncer); ok {
			synced, err := sy.Sync(ctx)
			if err != nil {
				return fmt.Errorf("sync: %w", err)
			}
			if synced < s.target {
				return fmt.Errorf("synced up to offset %d, short of the snapshot's %d", synced, s.target)
			}
		}
		n.log.Info("fetched the records a partition lacked below the last snapshot", "station", rl.station, "partition", rl.partition,
			"from", addr, "records", k, "next_offset", s.target)
		return nil
	}
	if len(errs) == 0 {
		return errNoSource
	}
	return errors.Join(errs...)
}

// fillSources returns the cluster addresses to fetch records from: the
// leader's first, unless it is this node, then the other members'.
func (n *Node) fillSources() []string {
	var out []string
	_, leader := n.raft.LeaderWithID()
	if leader != "" && string(leader) != n.cfg.NodeID {
		out = append(out, n.leaderDialAddr())
	}
	n.nodesMu.Lock()
	ids := make([]string, 0, len(n.nodes))
	for id := range n.nodes {
		ids = append(ids, id)
	}
	n.nodesMu.Unlock()
	for _, id := range ids {
		if id == n.cfg.NodeID || id == string(leader) {
			continue
		}
		if addr, err := (addressProvider{n}).ServerAddr(raft.ServerID(id)); err == nil {
			out = append(out, string(addr))
		}
	}
	return out
}

// fillAll makes one attempt at filling every short partition;
// watchHealth calls it once a leader is known.
func (n *Node) fillAll(ctx context.Context, short []shortLog) error {
	n.applyMu.RLock()
	defer n.applyMu.RUnlock()
	for _, s := range short {
		if err := n.fillOnce(ctx, s); err != nil {
			return fmt.Errorf("station %q partition %d: %w", s.rl.station, s.rl.partition, err)
		}
	}
	return nil
}
