package cluster

import (
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func tcpTransport(t *testing.T) *raft.NetworkTransport {
	t.Helper()
	tr, err := raft.NewTCPTransport("127.0.0.1:0", nil, 2, 5*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// TestVoteGuardRefusesWhileDamaged asks a guarded transport for votes
// and pre-votes, and to take leadership: refused by the guard, without raft seeing them, while
// the node is damaged; passed to raft once it is not.
func TestVoteGuardRefusesWhileDamaged(t *testing.T) {
	candidate, voter := tcpTransport(t), tcpTransport(t)
	stop := make(chan struct{})
	defer close(stop)
	var damaged atomic.Bool
	damaged.Store(true)
	var refusals atomic.Int32
	g := newVoteGuard(voter, "voter", stop, damaged.Load, func(string) { refusals.Add(1) })

	hdr := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("cand"), Addr: []byte(candidate.LocalAddr())}
	req := &raft.RequestVoteRequest{RPCHeader: hdr, Term: 7, LastLogIndex: 10, LastLogTerm: 6}
	var resp raft.RequestVoteResponse
	if err := candidate.RequestVote("voter", voter.LocalAddr(), req, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Granted || resp.Term != 7 {
		t.Fatalf("vote from a damaged node: %+v, want refused in term 7", resp)
	}
	pre := &raft.RequestPreVoteRequest{RPCHeader: hdr, Term: 8, LastLogIndex: 10, LastLogTerm: 6}
	var preResp raft.RequestPreVoteResponse
	if err := candidate.RequestPreVote("voter", voter.LocalAddr(), pre, &preResp); err != nil {
		t.Fatal(err)
	}
	if preResp.Granted || preResp.Term != 8 {
		t.Fatalf("pre-vote from a damaged node: %+v, want refused in term 8", preResp)
	}
	var tnResp raft.TimeoutNowResponse
	if err := candidate.TimeoutNow("voter", voter.LocalAddr(), &raft.TimeoutNowRequest{RPCHeader: hdr}, &tnResp); err == nil {
		t.Fatal("a leadership transfer to a damaged node was taken, want refused")
	}
	if n := refusals.Load(); n != 3 {
		t.Fatalf("%d refusals reported, want 3", n)
	}
	select {
	case rpc := <-g.Consumer():
		t.Fatalf("raft was handed %T while damaged", rpc.Command)
	default:
	}

	damaged.Store(false)
	done := make(chan struct{})
	go func() {
		defer close(done)
		rpc := <-g.Consumer()
		if _, ok := rpc.Command.(*raft.RequestVoteRequest); !ok {
			t.Errorf("raft was handed %T, want the vote request", rpc.Command)
		}
		rpc.Respond(&raft.RequestVoteResponse{Term: 7, Granted: true}, nil)
	}()
	resp = raft.RequestVoteResponse{}
	if err := candidate.RequestVote("voter", voter.LocalAddr(), req, &resp); err != nil {
		t.Fatal(err)
	}
	<-done
	if !resp.Granted {
		t.Fatalf("vote from a repaired node: %+v, want raft's answer", resp)
	}
}
