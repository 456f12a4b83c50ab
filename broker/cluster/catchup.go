package cluster

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/raft"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// Catching up. A node that bootstraps a new cluster knows all there is
// to know from the start. A node that joins one, or restarts, holds only
// what it applied before: until it has applied what the cluster had
// committed when it started, it cannot tell a cluster without users from
// users it has not received yet, nor an unknown token from one minted on
// the leader a moment ago. It learns the leader's commit index from the
// leader's cluster port (or, leading itself, passes a barrier) and is
// caught up once it has applied that far.

// catchUpPoll is how often a node that is catching up looks again.
const catchUpPoll = 100 * time.Millisecond

// CaughtUp reports whether this node has applied everything the cluster
// had committed when it started: a node that bootstrapped a new cluster
// always has. It stays true once it is. Safe for concurrent use.
func (n *Node) CaughtUp() bool { return n.caughtUp.Load() }

// watchCatchUp makes CaughtUp true: at once when this node bootstrapped
// a new cluster, else once it has applied up to the leader's commit index
// as the leader told it after this node started.
func (n *Node) watchCatchUp(fresh bool) {
	if fresh {
		n.caughtUp.Store(true)
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		var target uint64 // the leader's commit index, once known
		t := time.NewTicker(catchUpPoll)
		defer t.Stop()
		for {
			switch {
			case target > 0 && n.appliedThrough(target):
				n.caughtUp.Store(true)
				n.log.Info("caught up with the cluster", "applied", n.raft.AppliedIndex())
				return
			case target == 0 && n.raft.State() == raft.Leader:
				if err := n.raft.Barrier(n.cfg.ApplyTimeout).Error(); err == nil {
					n.caughtUp.Store(true)
					n.log.Info("caught up with the cluster", "applied", n.raft.AppliedIndex())
					return
				}
			case target == 0:
				target = n.leaderCommitIndex(context.Background())
			}
			select {
			case <-n.stop:
				return
			case <-t.C:
			}
		}
	}()
}

// leaderCommitIndex asks the leader, on its cluster port, for its commit
// index; 0 when no leader is known or it did not answer as the leader.
func (n *Node) leaderCommitIndex(ctx context.Context) uint64 {
	addr := n.leaderDialAddr()
	if addr == "" {
		return 0
	}
	ctx, cancel := n.untilClosed(ctx, 3*time.Second)
	defer cancel()
	c := junctionv1connect.NewClusterServiceClient(n.peers, "http://"+addr)
	resp, err := c.Status(ctx, connect.NewRequest(&v1.ClusterStatusRequest{}))
	if err != nil || resp.Msg.GetState() != "leader" {
		return 0
	}
	return resp.Msg.GetCommitIndex()
}
