package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/broker/api"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// maxReadBytes is the default and largest ReadPartition answer.
const maxReadBytes = 4 << 20

// Service serves the ClusterService of a node, or of a single-node broker
// when its node is nil.
type Service struct {
	n *Node
	b *broker.Broker
	// internal is set on the cluster port, where a follower names the
	// leader's cluster address rather than its API address.
	internal bool
}

var _ junctionv1connect.ClusterServiceHandler = (*Service)(nil)

// NewService returns the ClusterService of node n (nil for a single-node
// broker) over broker b.
func NewService(n *Node, b *broker.Broker) *Service { return &Service{n: n, b: b} }

var errSingleNode = errors.New("this broker is a single node, not a cluster member (start it with --node-id and --cluster-listen)")

func (s *Service) node() (*Node, error) {
	if s.n == nil || s.n.raft == nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errSingleNode)
	}
	return s.n, nil
}

// Status implements junctionv1connect.ClusterServiceHandler.
func (s *Service) Status(ctx context.Context, _ *connect.Request[v1.ClusterStatusRequest]) (*connect.Response[v1.ClusterStatusResponse], error) {
	n, err := s.node()
	if err != nil {
		return nil, err
	}
	_, leaderID := n.raft.LeaderWithID()
	st := &v1.ClusterStatusResponse{
		NodeId:       n.cfg.NodeID,
		State:        strings.ToLower(n.raft.State().String()),
		Term:         n.raft.CurrentTerm(),
		LeaderId:     string(leaderID),
		CommitIndex:  n.raft.CommitIndex(),
		AppliedIndex: n.raft.AppliedIndex(),
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, api.Error(n.raftErr(err), "", "")
	}
	for _, srv := range f.Configuration().Servers {
		info, _ := n.node(string(srv.ID))
		// This node knows it is damaged before the others do.
		repairing := info.Repairing || string(srv.ID) == n.cfg.NodeID && n.repairing.Load()
		st.Nodes = append(st.Nodes, &v1.ClusterNode{
			Id: string(srv.ID), RaftAddress: string(srv.Address), ApiAddress: info.API,
			Voter: srv.Suffrage == raft.Voter, Leader: srv.ID == leaderID, Repairing: repairing,
		})
	}
	slices.SortFunc(st.Nodes, func(a, b *v1.ClusterNode) int { return strings.Compare(a.Id, b.Id) })
	return connect.NewResponse(st), nil
}

// AddNode implements junctionv1connect.ClusterServiceHandler.
func (s *Service) AddNode(ctx context.Context, req *connect.Request[v1.AddNodeRequest]) (*connect.Response[v1.AddNodeResponse], error) {
	n, err := s.node()
	if err != nil {
		return nil, err
	}
	m := req.Msg
	switch {
	case m.NodeId == "" || len(m.NodeId) > 128:
		return nil, api.Error(&broker.FieldError{Field: "node_id", Reason: "must be 1 to 128 bytes"}, "", "")
	case !hostPort(m.RaftAddress):
		return nil, api.Error(&broker.FieldError{Field: "raft_address", Reason: fmt.Sprintf("%q is not host:port", m.RaftAddress)}, "", "")
	case m.ApiAddress != "" && !hostPort(m.ApiAddress):
		return nil, api.Error(&broker.FieldError{Field: "api_address", Reason: fmt.Sprintf("%q is not host:port", m.ApiAddress)}, "", "")
	}
	if err := s.notLeader(n); err != nil {
		return nil, api.Error(err, "", "")
	}
	if m.Repairing {
		if err := n.demote(m); err != nil {
			return nil, api.Error(err, "", "")
		}
		return connect.NewResponse(&v1.AddNodeResponse{}), nil
	}
	if err := n.register(nodeInfo{ID: m.NodeId, Raft: m.RaftAddress, API: m.ApiAddress}); err != nil {
		return nil, api.Error(err, "", "")
	}
	if err := n.raft.AddVoter(raft.ServerID(m.NodeId), raft.ServerAddress(m.RaftAddress), 0, n.cfg.ApplyTimeout).Error(); err != nil {
		return nil, api.Error(n.raftErr(err), "", "")
	}
	n.log.Info("node added", "id", m.NodeId, "raft", m.RaftAddress, "api", m.ApiAddress)
	return connect.NewResponse(&v1.AddNodeResponse{}), nil
}

// errKeepQuorum is matched by a refusal to demote a voter whose loss of
// vote would leave fewer voters than a majority of the current ones.
var errKeepQuorum = errors.New("too few voters would be left")

// demote makes a member that found damage in its logs a non-voter
// registered as repairing (see repair.go).
func (n *Node) demote(m *v1.AddNodeRequest) error {
	if m.NodeId == n.cfg.NodeID {
		return &broker.FieldError{Field: "node_id", Reason: "the leader cannot demote itself; transfer leadership first"}
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return n.raftErr(err)
	}
	voters, member, voter := 0, false, false
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
		if s.ID == raft.ServerID(m.NodeId) {
			member, voter = true, s.Suffrage == raft.Voter
		}
	}
	if voter && voters-1 < voters/2+1 {
		return fmt.Errorf("cluster: demote %q while it repairs: %w (%d of %d)", m.NodeId, errKeepQuorum, voters-1, voters)
	}
	if err := n.register(nodeInfo{ID: m.NodeId, Raft: m.RaftAddress, API: m.ApiAddress, Repairing: true}); err != nil {
		return err
	}
	var err error
	switch {
	case voter:
		err = n.raft.DemoteVoter(raft.ServerID(m.NodeId), 0, n.cfg.ApplyTimeout).Error()
	case !member:
		err = n.raft.AddNonvoter(raft.ServerID(m.NodeId), raft.ServerAddress(m.RaftAddress), 0, n.cfg.ApplyTimeout).Error()
	}
	if err != nil {
		return n.raftErr(err)
	}
	n.log.Warn("node demoted to a non-voter while it repairs damaged partitions", "id", m.NodeId)
	return nil
}

// RemoveNode implements junctionv1connect.ClusterServiceHandler.
func (s *Service) RemoveNode(ctx context.Context, req *connect.Request[v1.RemoveNodeRequest]) (*connect.Response[v1.RemoveNodeResponse], error) {
	n, err := s.node()
	if err != nil {
		return nil, err
	}
	id := req.Msg.NodeId
	if id == "" {
		return nil, api.Error(&broker.FieldError{Field: "node_id", Reason: "is required"}, "", "")
	}
	if err := n.notLeader(); err != nil {
		return nil, api.Error(err, "", "")
	}
	if err := n.checkRemoval(id); err != nil {
		if errors.Is(err, ErrReplicasUnsatisfiable) {
			return nil, connect.NewError(connect.CodeFailedPrecondition, err)
		}
		return nil, api.Error(err, "", "")
	}
	if err := n.raft.RemoveServer(raft.ServerID(id), 0, n.cfg.ApplyTimeout).Error(); err != nil {
		return nil, api.Error(n.raftErr(err), "", "")
	}
	if id != n.cfg.NodeID {
		if _, err := n.apply(append([]byte{kindForget}, id...)); err != nil {
			n.log.Warn("forget a removed node's addresses", "id", id, "err", err)
		}
	}
	n.log.Info("node removed", "id", id)
	return connect.NewResponse(&v1.RemoveNodeResponse{}), nil
}

// TransferLeader implements junctionv1connect.ClusterServiceHandler.
func (s *Service) TransferLeader(ctx context.Context, req *connect.Request[v1.TransferLeaderRequest]) (*connect.Response[v1.TransferLeaderResponse], error) {
	n, err := s.node()
	if err != nil {
		return nil, err
	}
	if err := n.notLeader(); err != nil {
		return nil, api.Error(err, "", "")
	}
	var f raft.Future
	if id := req.Msg.NodeId; id != "" {
		info, ok := n.node(id)
		if !ok {
			return nil, api.Error(&broker.FieldError{Field: "node_id", Reason: fmt.Sprintf("no node %q is known", id)}, "", "")
		}
		f = n.raft.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(info.Raft))
	} else {
		f = n.raft.LeadershipTransfer()
	}
	if err := f.Error(); err != nil {
		return nil, api.Error(n.raftErr(err), "", "")
	}
	return connect.NewResponse(&v1.TransferLeaderResponse{}), nil
}

// ReadPartition implements junctionv1connect.ClusterServiceHandler. It
// works on a single node too.
func (s *Service) ReadPartition(ctx context.Context, req *connect.Request[v1.ReadPartitionRequest]) (*connect.Response[v1.ReadPartitionResponse], error) {
	m := req.Msg
	max := int(m.MaxBytes)
	if max <= 0 || max > maxReadBytes {
		max = maxReadBytes
	}
	next, err := s.b.NextOffsets(m.Station)
	if err != nil {
		return nil, api.Error(err, m.Station, "")
	}
	if int(m.Partition) >= len(next) {
		return nil, api.Error(&broker.FieldError{Field: "partition", Reason: fmt.Sprintf("station has %d partitions", len(next))}, m.Station, "")
	}
	resp := &v1.ReadPartitionResponse{NextOffset: next[m.Partition]}
	if m.From >= next[m.Partition] {
		return connect.NewResponse(resp), nil
	}
	recs, err := s.b.Read(m.Station, m.Partition, m.From, max)
	if err != nil {
		return nil, api.Error(err, m.Station, "")
	}
	resp.Records = make([]*v1.Delivery, len(recs))
	for i, r := range recs {
		d := &v1.Delivery{Partition: m.Partition, Offset: r.Offset, Timestamp: timestamppb.New(time.Unix(0, r.Timestamp)), Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			d.Headers = append(d.Headers, &v1.Header{Key: h.Key, Value: h.Value})
		}
		resp.Records[i] = d
	}
	return connect.NewResponse(resp), nil
}

// notLeader is n.notLeader, naming the leader's cluster address on the
// cluster port.
func (s *Service) notLeader(n *Node) error {
	err := n.notLeader()
	if err == nil || !s.internal {
		return err
	}
	return &broker.NotLeaderError{Leader: n.leaderDialAddr()}
}

// internalHandler serves the calls members make to each other on the
// cluster port: joining and changing a vote (AddNode), and fetching
// records (ReadPartition). Who reaches the port is a member (mutual TLS,
// or a network only members reach), so they need no user credentials;
// the rest of ClusterService stays on the API, behind its authentication.
func internalHandler(n *Node) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(junctionv1connect.NewClusterServiceHandler(internalService{s: &Service{n: n, b: n.fsm.b, internal: true}},
		connect.WithReadMaxBytes(maxInternalRequestBytes)))
	mux.Handle(forwardPath, forwardHandler(n))
	return mux
}

// maxInternalRequestBytes bounds a request on the cluster port; the
// calls there are small.
const maxInternalRequestBytes = 64 << 10

// internalService is the part of ClusterService on the cluster port.
type internalService struct {
	junctionv1connect.UnimplementedClusterServiceHandler
	s *Service
}

func (i internalService) AddNode(ctx context.Context, req *connect.Request[v1.AddNodeRequest]) (*connect.Response[v1.AddNodeResponse], error) {
	return i.s.AddNode(ctx, req)
}

// Status tells a member that is catching up the leader's commit index.
func (i internalService) Status(ctx context.Context, req *connect.Request[v1.ClusterStatusRequest]) (*connect.Response[v1.ClusterStatusResponse], error) {
	return i.s.Status(ctx, req)
}

func (i internalService) ReadPartition(ctx context.Context, req *connect.Request[v1.ReadPartitionRequest]) (*connect.Response[v1.ReadPartitionResponse], error) {
	return i.s.ReadPartition(ctx, req)
}

func hostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return false
	}
	p, err := strconv.Atoi(port)
	return err == nil && p > 0 && p < 65536
}

// askToJoin asks the node at addr, through hc, to add this one (or to
// change its vote, see repair.go). A follower answers with the leader's
// address, which is asked next.
func askToJoin(ctx context.Context, hc *http.Client, addr string, self nodeInfo) error {
	for range 3 {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c := junctionv1connect.NewClusterServiceClient(hc, "http://"+addr)
		_, err := c.AddNode(ctx, connect.NewRequest(&v1.AddNodeRequest{NodeId: self.ID, RaftAddress: self.Raft, ApiAddress: self.API, Repairing: self.Repairing}))
		cancel()
		if err == nil {
			return nil
		}
		leader := leaderOf(err)
		if leader == "" || leader == addr {
			return err
		}
		addr = leader
	}
	return errors.New("no leader accepted the node")
}

// leaderOf returns the leader address a NOT_LEADER error names, or "".
func leaderOf(err error) string {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return ""
	}
	for _, d := range ce.Details() {
		v, derr := d.Value()
		if derr != nil {
			continue
		}
		if info, ok := v.(*v1.ErrorInfo); ok && info.Reason == v1.ErrorReason_ERROR_REASON_NOT_LEADER {
			return info.Leader
		}
	}
	return ""
}
