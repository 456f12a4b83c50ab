package client

import (
	"context"

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
			Voter: n.GetVoter(), Leader: n.GetLeader()})
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
