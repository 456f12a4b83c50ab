package client

import (
	"context"
	"errors"
	"strings"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// ClusterStatus is a cluster as one of its nodes sees it.
type ClusterStatus struct {
	// NodeID is the answering node; State its raft state (leader,
	// follower, candidate, shutdown); Term its raft term.
	NodeID, State string
	Term          uint64
	// LeaderID is the leader's node id, empty during an election.
	LeaderID string
	// CommitIndex and AppliedIndex are the node's raft log positions.
	CommitIndex, AppliedIndex uint64
	Nodes                     []ClusterNode
}

// ClusterNode is one member of a cluster.
type ClusterNode struct {
	ID, RaftAddress, APIAddress string
	Voter, Leader               bool
	// Repairing is set while the node rebuilds damaged partitions from
	// the leader's copy, as a non-voter.
	Repairing bool
}

// ClusterStatus describes the cluster of the broker the client talks to.
// A single-node broker fails with a FAILED_PRECONDITION error.
func (c *Client) ClusterStatus(ctx context.Context) (*ClusterStatus, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.cluster.Status(ctx, connect.NewRequest(&junctionv1.ClusterStatusRequest{}))
	if err != nil {
		return nil, fromConnect(err)
	}
	m := resp.Msg
	st := &ClusterStatus{NodeID: m.GetNodeId(), State: m.GetState(), Term: m.GetTerm(), LeaderID: m.GetLeaderId(),
		CommitIndex: m.GetCommitIndex(), AppliedIndex: m.GetAppliedIndex()}
	for _, n := range m.GetNodes() {
		st.Nodes = append(st.Nodes, ClusterNode{ID: n.GetId(), RaftAddress: n.GetRaftAddress(), APIAddress: n.GetApiAddress(),
			Voter: n.GetVoter(), Leader: n.GetLeader(), Repairing: n.GetRepairing()})
	}
	return st, nil
}

// AddNode adds a node to the cluster as a voter. Call it on the leader;
// a follower fails with ErrNotLeader naming the leader.
func (c *Client) AddNode(ctx context.Context, id, raftAddr, apiAddr string) error {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	_, err := c.cluster.AddNode(ctx, connect.NewRequest(&junctionv1.AddNodeRequest{NodeId: id, RaftAddress: raftAddr, ApiAddress: apiAddr}))
	return fromConnect(err)
}

// RemoveNode removes a node from the cluster. Call it on the leader.
func (c *Client) RemoveNode(ctx context.Context, id string) error {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	_, err := c.cluster.RemoveNode(ctx, connect.NewRequest(&junctionv1.RemoveNodeRequest{NodeId: id}))
	return fromConnect(err)
}

// TransferLeader hands the leadership to node id, or to the most
// up-to-date voter when id is empty. Call it on the leader.
func (c *Client) TransferLeader(ctx context.Context, id string) error {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	_, err := c.cluster.TransferLeader(ctx, connect.NewRequest(&junctionv1.TransferLeaderRequest{NodeId: id}))
	return fromConnect(err)
}

// ConnectCluster connects to a Junction cluster given the addresses of
// some of its nodes: to the first that answers, or, when that one is a
// follower that knows the cluster's leader, to the leader, where writes
// and consumer groups are served. A single broker among addrs is used as
// it is.
//
// The client then follows the leader: a call a follower refuses is sent to
// the leader it names, and when the leader is lost the client asks addrs
// for the new one. A call whose outcome became unknown is sent again only
// when that is harmless (reads, pulls, acks, nacks, and produces whose
// every message has an ID); the others fail with ErrOutcomeUnknown or
// ErrUnavailable. A [Producer] keeps its batches in order across the move.
func ConnectCluster(ctx context.Context, addrs []string, opts ...Option) (*Client, error) {
	if len(addrs) == 0 {
		return nil, errors.New("connect: no broker address")
	}
	peers := make([]string, len(addrs))
	for i, a := range addrs {
		peers[i] = strings.TrimSpace(a)
	}
	var errs []error
	for _, addr := range peers {
		c, err := Connect(ctx, addr, opts...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.follow.peers = peers
		st, err := c.ClusterStatus(ctx)
		if err != nil || st.State == "leader" {
			return c, nil // a single broker, or the leader
		}
		for _, n := range st.Nodes {
			if n.Leader && n.APIAddress != "" {
				c.follow.setTarget(n.APIAddress)
			}
		}
		return c, nil
	}
	return nil, errors.Join(errs...)
}
