package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/junctionhq/junction/broker/meta"
	"github.com/junctionhq/junction/internal/names"
)

// kindConnectors is a write to the connector store (connectorWrite,
// JSON).
const kindConnectors byte = 6

// connectorWrite is a write to the connector store, applied on every node
// to its own metadata file.
type connectorWrite struct {
	Op    string `json:"op"` // put, delete or checkpoint
	Name  string `json:"name"`
	Value []byte `json:"value,omitempty"`
}

// connectorStore is the replicated connector store: definitions, pause
// state and source checkpoints. Reads are local; writes go through the
// leader and are applied on every node, so a connector resumes from its
// checkpoint on whichever node runs it next.
type connectorStore struct {
	n     *Node
	local meta.ConnectorStore
}

var _ meta.ConnectorStore = (*connectorStore)(nil)

// ConnectorStore returns the cluster's replicated connector store over
// local, this node's own, which committed writes are applied to. Call it
// before Start, so that entries replayed at start find the store.
func (n *Node) ConnectorStore(local meta.ConnectorStore) meta.ConnectorStore {
	n.connectors = local
	return &connectorStore{n: n, local: local}
}

func (s *connectorStore) write(w connectorWrite) error {
	if err := s.n.notLeader(); err != nil {
		return err
	}
	data, err := encodeJSON(kindConnectors, w)
	if err != nil {
		return err
	}
	_, err = s.n.apply(data)
	return err
}

func (s *connectorStore) PutConnector(name string, value []byte) error {
	return s.write(connectorWrite{Op: "put", Name: name, Value: value})
}

func (s *connectorStore) DeleteConnector(name string) error {
	return s.write(connectorWrite{Op: "delete", Name: name})
}

// PutCheckpoint stores a source's checkpoint; a follower, where a pinned
// source runs, has the leader store it.
func (s *connectorStore) PutCheckpoint(name string, position []byte) error {
	if s.n.running.Load() && s.n.notLeader() != nil {
		ctx, cancel := context.WithTimeout(context.Background(), groupCallTimeout)
		defer cancel()
		return s.n.forward(ctx, "checkpoint", fwdCheckpoint{Name: name, Position: position}, nil)
	}
	return s.write(connectorWrite{Op: "checkpoint", Name: name, Value: position})
}

func (s *connectorStore) Connectors(fn func(name string, value []byte) error) error {
	return s.local.Connectors(fn)
}

func (s *connectorStore) Checkpoint(name string) ([]byte, error) { return s.local.Checkpoint(name) }

// decodeConnectorWrite decodes the body of a kindConnectors entry (after
// its kind byte).
func decodeConnectorWrite(data []byte) (connectorWrite, error) {
	var w connectorWrite
	if err := json.Unmarshal(data, &w); err != nil {
		return w, fmt.Errorf("%w: connector write: %w", errBadEntry, err)
	}
	switch {
	case w.Op != "put" && w.Op != "delete" && w.Op != "checkpoint":
		return w, fmt.Errorf("%w: unknown connector write %q", errBadEntry, w.Op)
	case !names.Valid(w.Name):
		return w, fmt.Errorf("%w: connector write: invalid connector name %q", errBadEntry, w.Name)
	}
	return w, nil
}

// applyConnectorWrite applies a kindConnectors entry to the local store
// and tells the placement watcher that connectors changed.
func (n *Node) applyConnectorWrite(data []byte) error {
	w, err := decodeConnectorWrite(data)
	if err != nil {
		return err
	}
	if n.connectors == nil {
		return errors.New("cluster: no connector store")
	}
	switch w.Op {
	case "put":
		err = n.connectors.PutConnector(w.Name, w.Value)
	case "delete":
		err = n.connectors.DeleteConnector(w.Name)
	default:
		// A checkpoint does not change where connectors run.
		return n.connectors.PutCheckpoint(w.Name, w.Value)
	}
	n.placementChanged()
	return err
}

// manifestConnector is a connector in a snapshot manifest.
type manifestConnector struct {
	Name       string `json:"name"`
	Record     []byte `json:"record"`
	Checkpoint []byte `json:"checkpoint,omitempty"`
}

// snapshotConnectors lists the connector store for a snapshot.
func (n *Node) snapshotConnectors() ([]manifestConnector, error) {
	if n.connectors == nil {
		return nil, nil
	}
	var out []manifestConnector
	err := n.connectors.Connectors(func(name string, v []byte) error {
		out = append(out, manifestConnector{Name: name, Record: v})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: snapshot connectors: %w", err)
	}
	for i := range out {
		if out[i].Checkpoint, err = n.connectors.Checkpoint(out[i].Name); err != nil {
			return nil, fmt.Errorf("cluster: snapshot connector %q: %w", out[i].Name, err)
		}
	}
	return out, nil
}

// restoreConnectors makes the local connector store hold what a snapshot
// lists, and nothing else.
func (n *Node) restoreConnectors(list []manifestConnector) error {
	if n.connectors == nil {
		return nil
	}
	want := make(map[string]bool, len(list))
	for _, c := range list {
		want[c.Name] = true
	}
	var gone []string
	if err := n.connectors.Connectors(func(name string, _ []byte) error {
		if !want[name] {
			gone = append(gone, name)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("cluster: restore connectors: %w", err)
	}
	for _, name := range gone {
		if err := n.connectors.DeleteConnector(name); err != nil {
			return fmt.Errorf("cluster: restore: drop connector %q: %w", name, err)
		}
	}
	for _, c := range list {
		if err := n.connectors.PutConnector(c.Name, c.Record); err != nil {
			return fmt.Errorf("cluster: restore connector %q: %w", c.Name, err)
		}
		if c.Checkpoint != nil {
			if err := n.connectors.PutCheckpoint(c.Name, c.Checkpoint); err != nil {
				return fmt.Errorf("cluster: restore connector %q checkpoint: %w", c.Name, err)
			}
		}
	}
	n.placementChanged()
	return nil
}

// placementChanged wakes the placement watcher, if any, without waiting.
func (n *Node) placementChanged() {
	select {
	case n.placement <- struct{}{}:
	default:
	}
}

// WatchPlacement calls fn, from one goroutine and never concurrently,
// whenever what this node should run may have changed: it gained or lost
// the leadership, or a connector was created, changed or deleted. fn
// runs once at the start too. Call it once, after Start; it stops when
// the node closes.
func (n *Node) WatchPlacement(fn func(ctx context.Context)) {
	obs := make(chan raft.Observation, 4)
	o := raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	n.raft.RegisterObserver(o)
	ctx, cancel := context.WithCancel(context.Background())
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer n.raft.DeregisterObserver(o)
		defer cancel()
		go func() {
			<-n.stop
			cancel()
		}()
		for {
			fn(ctx)
			select {
			case <-n.stop:
				return
			case <-obs:
			case <-n.placement:
			}
			if n.IsLeader() {
				// Run what the previous leaders left only once every
				// entry they committed is applied here.
				wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
				if err := n.Writable(wctx); err != nil {
					n.log.Warn("apply earlier terms before starting connectors", "err", err)
				}
				wcancel()
			}
		}
	}()
}

// RunsHere reports whether this node should run a connector pinned to
// node (empty for none): an unpinned connector runs on the leader, a
// pinned one on its node whichever node leads (its produces and consumer
// group calls go to the leader through ConnectorBroker).
func (n *Node) RunsHere(node string) bool {
	if node != "" {
		return node == n.cfg.NodeID
	}
	return n.IsLeader()
}
