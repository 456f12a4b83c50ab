package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/internal/names"
)

// Forwarding. A connector pinned to a node runs there whoever leads, but
// produces and consumer groups are served by the leader. A ConnectorBroker
// on a follower sends them, and source checkpoints, to the leader's
// cluster port (forwardPath): plain JSON calls between members, answered
// only by the leader, which runs them as the connector host's own calls.
// Reads of stations (settings, offsets, message ids, schemas) stay local.

// forwardPath is where the cluster port takes forwarded calls; the
// operation's name follows it.
const forwardPath = "/junction.cluster.v1/forward/"

// maxForwardBytes bounds a forwarded call's request and answer: a
// connector's batch, with room to spare.
const maxForwardBytes = 64 << 20

// groupCallTimeout bounds the forwarded calls made without a context.
const groupCallTimeout = 10 * time.Second

// describeTimeout bounds asking the leader to describe a group, which a
// connector's status does: past it, this node's copy answers.
const describeTimeout = 2 * time.Second

// ConnectorBroker is the broker a cluster node's connector host uses: b
// itself while this node leads, and on a follower b for reads and the
// leader for produces, dead letters and consumer group calls. Its methods
// are those of plugin.Broker. Safe for concurrent use.
type ConnectorBroker struct {
	n *Node
	b *broker.Broker
}

// ConnectorBroker returns the broker this node's connector host uses,
// over b, so that a connector pinned to this node runs here whichever
// node leads.
func (n *Node) ConnectorBroker(b *broker.Broker) *ConnectorBroker {
	return &ConnectorBroker{n: n, b: b}
}

// local reports whether calls go to this node's own broker.
func (c *ConnectorBroker) local() bool { return c.n.notLeader() == nil }

// Station returns a station's settings and statistics from this node.
func (c *ConnectorBroker) Station(name string) (broker.StationConfig, broker.StationStats, error) {
	return c.b.Station(name)
}

// NextOffsets returns the next offset of every partition of a station,
// as far as this node has applied.
func (c *ConnectorBroker) NextOffsets(station string) ([]uint64, error) {
	return c.b.NextOffsets(station)
}

// MessageIDs reads message ids from this node's copy of a station.
func (c *ConnectorBroker) MessageIDs(ctx context.Context, station string, from []uint64, prefix string) (map[string]bool, error) {
	return c.b.MessageIDs(ctx, station, from, prefix)
}

// StationSchema returns a station's schema from this node.
func (c *ConnectorBroker) StationSchema(ctx context.Context, station string) (*broker.StationSchema, *broker.SchemaVersion, error) {
	return c.b.StationSchema(ctx, station)
}

// fwdProduce is the request of "produce" and "dead-letter".
type fwdProduce struct {
	Station  string           `json:"station"`
	DLQ      string           `json:"dlq,omitempty"`
	Messages []broker.Message `json:"messages"`
}

// fwdGroup is the request of the consumer group calls.
type fwdGroup struct {
	Station string               `json:"station"`
	Group   string               `json:"group"`
	Start   broker.StartPosition `json:"start,omitzero"`
	Config  broker.GroupConfig   `json:"config,omitzero"`
	Offsets map[uint32]uint64    `json:"offsets,omitempty"`
	Pull    broker.PullOptions   `json:"pull,omitzero"`
	Ranges  []broker.OffsetRange `json:"ranges,omitempty"`
}

// fwdPulled is the answer to "pull-batches".
type fwdPulled struct {
	Deliveries []broker.Delivery         `json:"deliveries,omitempty"`
	Batches    []broker.PartitionBatches `json:"batches,omitempty"`
}

// fwdCheckpoint is the request of "checkpoint".
type fwdCheckpoint struct {
	Name     string `json:"name"`
	Position []byte `json:"position"`
}

// Produce appends msgs on the leader.
func (c *ConnectorBroker) Produce(ctx context.Context, station string, msgs []broker.Message) ([]broker.ProduceResult, error) {
	if c.local() {
		return c.b.Produce(ctx, station, msgs)
	}
	var out []broker.ProduceResult
	err := c.n.forward(ctx, "produce", fwdProduce{Station: station, Messages: msgs}, &out)
	return out, err
}

// DeadLetter appends msgs to origin's dead-letter station dlq on the
// leader.
func (c *ConnectorBroker) DeadLetter(ctx context.Context, origin, dlq string, msgs []broker.Message) error {
	if c.local() {
		return c.b.DeadLetter(ctx, origin, dlq, msgs)
	}
	return c.n.forward(ctx, "dead-letter", fwdProduce{Station: origin, DLQ: dlq, Messages: msgs}, nil)
}

// CreateGroup creates a consumer group on the leader.
func (c *ConnectorBroker) CreateGroup(ctx context.Context, station, group string, start broker.StartPosition, cfg broker.GroupConfig) (broker.GroupInfo, error) {
	if c.local() {
		return c.b.CreateGroup(ctx, station, group, start, cfg)
	}
	var out broker.GroupInfo
	err := c.n.forward(ctx, "create-group", fwdGroup{Station: station, Group: group, Start: start, Config: cfg}, &out)
	return out, err
}

// Group describes a consumer group as the leader has it, or, when the
// leader does not answer at once, as this node last applied it.
func (c *ConnectorBroker) Group(station, group string) (broker.GroupInfo, error) {
	if c.local() {
		return c.b.Group(station, group)
	}
	ctx, cancel := context.WithTimeout(context.Background(), describeTimeout)
	defer cancel()
	var out broker.GroupInfo
	err := c.n.forward(ctx, "group", fwdGroup{Station: station, Group: group}, &out)
	if err != nil && !errors.Is(err, broker.ErrGroupNotFound) && !errors.Is(err, broker.ErrStationNotFound) {
		return c.b.Group(station, group)
	}
	return out, err
}

// SeekGroup moves partitions of a group on the leader.
func (c *ConnectorBroker) SeekGroup(ctx context.Context, station, group string, offsets map[uint32]uint64) error {
	if c.local() {
		return c.b.SeekGroup(ctx, station, group, offsets)
	}
	return c.n.forward(ctx, "seek-group", fwdGroup{Station: station, Group: group, Offsets: offsets}, nil)
}

// PullBatches delivers messages of a group from the leader.
func (c *ConnectorBroker) PullBatches(ctx context.Context, station, group string, o broker.PullOptions) ([]broker.Delivery, []broker.PartitionBatches, error) {
	if c.local() {
		return c.b.PullBatches(ctx, station, group, o)
	}
	var out fwdPulled
	err := c.n.forward(ctx, "pull-batches", fwdGroup{Station: station, Group: group, Pull: o}, &out)
	return out.Deliveries, out.Batches, err
}

// AckRanges acknowledges ranges of deliveries on the leader.
func (c *ConnectorBroker) AckRanges(ctx context.Context, station, group string, ranges []broker.OffsetRange) error {
	if c.local() {
		return c.b.AckRanges(ctx, station, group, ranges)
	}
	return c.n.forward(ctx, "ack-ranges", fwdGroup{Station: station, Group: group, Ranges: ranges}, nil)
}

// DeleteGroup deletes a consumer group on the leader.
func (c *ConnectorBroker) DeleteGroup(ctx context.Context, station, group string) error {
	if c.local() {
		return c.b.DeleteGroup(ctx, station, group)
	}
	return c.n.forward(ctx, "delete-group", fwdGroup{Station: station, Group: group}, nil)
}

// fwdError is a forwarded call's failure: the message, and which of the
// broker's errors it matches, so that callers branch on it as on a local
// one.
type fwdError struct {
	Message string `json:"error"`
	Kind    string `json:"kind,omitempty"`
	Leader  string `json:"leader,omitempty"`
}

// fwdKinds are the broker errors a forwarded call keeps.
var fwdKinds = map[string]error{
	"station-not-found": broker.ErrStationNotFound,
	"group-not-found":   broker.ErrGroupNotFound,
	"group-exists":      broker.ErrGroupExists,
	"invalid-argument":  broker.ErrInvalidArgument,
	"message-too-large": broker.ErrMessageTooLarge,
	"not-pending":       broker.ErrNotPending,
	"closed":            broker.ErrClosed,
	"outcome-unknown":   broker.ErrOutcomeUnknown,
	"schema-violation":  broker.ErrSchemaViolation,
}

func encodeFwdError(err error) fwdError {
	e := fwdError{Message: err.Error()}
	var nl *broker.NotLeaderError
	if errors.As(err, &nl) && !errors.Is(err, broker.ErrOutcomeUnknown) {
		e.Kind, e.Leader = "not-leader", nl.Leader
		return e
	}
	for kind, target := range fwdKinds {
		if errors.Is(err, target) {
			e.Kind = kind
			break
		}
	}
	return e
}

// remoteError is a failure the leader reported; it matches the broker
// error it was on the leader.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return "leader: " + e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

func (e fwdError) err() error {
	if e.Kind == "not-leader" {
		return &broker.NotLeaderError{Leader: e.Leader}
	}
	return &remoteError{msg: e.Message, kind: fwdKinds[e.Kind]}
}

// forward runs op on the leader with req and decodes its answer into out
// (nil: none expected). With no leader known it fails with a
// NotLeaderError; when the leader could not be reached, with an error
// matching ErrOutcomeUnknown, since the call may have run.
func (n *Node) forward(ctx context.Context, op string, req, out any) error {
	addr := n.leaderDialAddr()
	if addr == "" || n.peers == nil {
		return &broker.NotLeaderError{}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("cluster: forward %s: %w", op, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+forwardPath+op, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("cluster: forward %s: %w", op, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := n.peers.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: forward %s to the leader at %s: %w", broker.ErrOutcomeUnknown, op, addr, err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxForwardBytes))
	if resp.StatusCode != http.StatusOK {
		var fe fwdError
		if err := dec.Decode(&fe); err != nil {
			return fmt.Errorf("%w: forward %s to the leader at %s: %s", broker.ErrOutcomeUnknown, op, addr, resp.Status)
		}
		return fe.err()
	}
	if out == nil {
		return nil
	}
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%w: forward %s: decode the leader's answer: %w", broker.ErrOutcomeUnknown, op, err)
	}
	return nil
}

// forwardHandler serves forwarded calls on the leader's cluster port.
func forwardHandler(n *Node) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		op := r.URL.Path[len(forwardPath):]
		out, err := n.serveForward(r.Context(), op, http.MaxBytesReader(w, r.Body, maxForwardBytes))
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			status := http.StatusConflict
			if errors.Is(err, errUnknownOp) {
				status = http.StatusNotFound
			}
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(encodeFwdError(err))
			return
		}
		if out == nil {
			out = struct{}{}
		}
		json.NewEncoder(w).Encode(out)
	})
}

var errUnknownOp = errors.New("unknown forwarded operation")

// decodeForward decodes the request of forwarded operation op.
func decodeForward(op string, body io.Reader) (any, error) {
	var req any
	switch op {
	case "produce", "dead-letter":
		req = &fwdProduce{}
	case "checkpoint":
		req = &fwdCheckpoint{}
	case "create-group", "group", "seek-group", "pull-batches", "ack-ranges", "delete-group":
		req = &fwdGroup{}
	default:
		return nil, fmt.Errorf("%w %q", errUnknownOp, op)
	}
	if err := json.NewDecoder(body).Decode(req); err != nil {
		return nil, fmt.Errorf("%w: forwarded %s: %w", broker.ErrInvalidArgument, op, err)
	}
	return req, nil
}

// serveForward runs one forwarded call, on the leader only.
func (n *Node) serveForward(ctx context.Context, op string, body io.Reader) (any, error) {
	if err := n.notLeader(); err != nil {
		return nil, err
	}
	req, err := decodeForward(op, body)
	if err != nil {
		return nil, err
	}
	b := n.fsm.b
	switch r := req.(type) {
	case *fwdProduce:
		if op == "dead-letter" {
			return nil, b.DeadLetter(ctx, r.Station, r.DLQ, r.Messages)
		}
		return b.Produce(ctx, r.Station, r.Messages)
	case *fwdCheckpoint:
		if !names.Valid(r.Name) {
			return nil, fmt.Errorf("%w: forwarded checkpoint: invalid connector name %q", broker.ErrInvalidArgument, r.Name)
		}
		return nil, (&connectorStore{n: n, local: n.connectors}).write(connectorWrite{Op: "checkpoint", Name: r.Name, Value: r.Position})
	}
	g := req.(*fwdGroup)
	switch op {
	case "create-group":
		return b.CreateGroup(ctx, g.Station, g.Group, g.Start, g.Config)
	case "group":
		return b.Group(g.Station, g.Group)
	case "seek-group":
		return nil, b.SeekGroup(ctx, g.Station, g.Group, g.Offsets)
	case "pull-batches":
		ds, bs, err := b.PullBatches(ctx, g.Station, g.Group, g.Pull)
		return fwdPulled{Deliveries: ds, Batches: bs}, err
	case "ack-ranges":
		return nil, b.AckRanges(ctx, g.Station, g.Group, g.Ranges)
	}
	return nil, b.DeleteGroup(ctx, g.Station, g.Group)
}
