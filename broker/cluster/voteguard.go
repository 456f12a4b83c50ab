package cluster

import (
	"errors"

	"github.com/hashicorp/raft"
)

// errRefuseLead answers a leadership transfer to a node that must not
// lead.
var errRefuseLead = errors.New("this node has damaged partitions, or partitions short of its last snapshot, and does not take leadership")

// voteGuard is the raft transport of a node that must not vote while its
// partitions are damaged: it answers vote and pre-vote requests, and
// leadership transfers to it, itself, refusing them, while refuse reports true, and hands every other RPC to
// raft. The refusal carries the candidate's own term, so it neither
// makes the candidate step down nor moves this node's term.
type voteGuard struct {
	*raft.NetworkTransport
	id     raft.ServerID
	refuse func() bool
	onVote func(candidate string)
	rpcs   chan raft.RPC
	stop   <-chan struct{}
}

// newVoteGuard guards t, for the node id, until stop closes; onVote is
// told of each refusal.
func newVoteGuard(t *raft.NetworkTransport, id raft.ServerID, stop <-chan struct{}, refuse func() bool, onVote func(candidate string)) *voteGuard {
	g := &voteGuard{NetworkTransport: t, id: id, refuse: refuse, onVote: onVote, rpcs: make(chan raft.RPC), stop: stop}
	go g.pump()
	return g
}

// guardVotes returns the transport raft runs on: this node's, refusing
// votes while the node has damaged partitions (repair.go) or partitions
// short of its last snapshot (short.go), from before raft starts until
// they are rebuilt.
func (n *Node) guardVotes() raft.Transport {
	refuse := func() bool { return n.repairing.Load() || n.shorted.Load() }
	return newVoteGuard(n.trans, raft.ServerID(n.cfg.NodeID), n.stop, refuse, func(candidate string) {
		n.log.Warn("refused a vote: this node has damaged partitions, or partitions short of its last snapshot", "candidate", candidate)
	})
}

// Consumer implements raft.Transport: the RPCs the guard lets through.
func (g *voteGuard) Consumer() <-chan raft.RPC { return g.rpcs }

func (g *voteGuard) pump() {
	in := g.NetworkTransport.Consumer()
	for {
		var rpc raft.RPC
		select {
		case rpc = <-in:
		case <-g.stop:
			return
		}
		if g.refused(rpc) {
			continue
		}
		select {
		case g.rpcs <- rpc:
		case <-g.stop:
			return
		}
	}
}

// refused answers rpc with a refusal when it asks for a vote the node
// must not give, and reports whether it did.
func (g *voteGuard) refused(rpc raft.RPC) bool {
	switch req := rpc.Command.(type) {
	case *raft.RequestVoteRequest:
		if !g.refuse() {
			return false
		}
		g.onVote(string(req.ID))
		rpc.Respond(&raft.RequestVoteResponse{RPCHeader: g.header(), Term: req.Term, Granted: false}, nil)
		return true
	case *raft.RequestPreVoteRequest:
		if !g.refuse() {
			return false
		}
		g.onVote(string(req.ID))
		rpc.Respond(&raft.RequestPreVoteResponse{RPCHeader: g.header(), Term: req.Term, Granted: false}, nil)
		return true
	case *raft.TimeoutNowRequest:
		// A leadership transfer to this node: it must not lead either.
		if !g.refuse() {
			return false
		}
		g.onVote(string(req.ID))
		rpc.Respond(nil, errRefuseLead)
		return true
	}
	return false
}

func (g *voteGuard) header() raft.RPCHeader {
	return raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(g.id), Addr: g.EncodePeer(g.id, g.LocalAddr())}
}
