package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/broker/meta"
)

// Config configures a Node. Zero fields take the documented defaults.
type Config struct {
	// NodeID names the node in the cluster; it must stay the same across
	// restarts. Required.
	NodeID string
	// RaftListen is the address the raft transport listens on. Required.
	RaftListen string
	// RaftAdvertise is the raft address other nodes dial. Default
	// RaftListen, which then must not be a wildcard address.
	RaftAdvertise string
	// Join lists addresses of members of an existing cluster: their
	// cluster ports, or their API ports (which take a join only while the
	// cluster has no users and the API no TLS). A node without raft state
	// asks them to add it; with none, it bootstraps a new cluster of one.
	// Ignored once the node has raft state.
	Join []string
	// APIAdvertise is the API address other nodes send clients to.
	// Default: the address the API listens on.
	APIAdvertise string
	// DataDir is the broker's data directory; raft state goes under
	// DATA/raft. Required.
	DataDir string
	// Logger receives the node's log. Default slog.Default().
	Logger *slog.Logger
	// Clock stamps produced messages on the leader. Default time.Now.
	Clock func() time.Time
	// ApplyTimeout bounds the wait to hand an entry to raft. Default 10s.
	ApplyTimeout time.Duration
	// SnapshotThreshold and TrailingLogs tune raft's snapshots: after this
	// many entries a snapshot is taken, and this many entries are kept
	// behind it so a follower that was briefly away catches up from the
	// log. Defaults 8192 and 65536.
	SnapshotThreshold, TrailingLogs uint64
	// SnapshotBytes and TrailingBytes bound the raft log in bytes: a
	// snapshot is taken once this many bytes of entries were stored since
	// the log was last compacted, and the entries kept behind it are cut
	// to about TrailingBytes (logbound.go). Defaults 256 MiB and 512 MiB.
	SnapshotBytes, TrailingBytes uint64
	// SnapshotInterval is how often raft checks whether to snapshot.
	// Default 2m.
	SnapshotInterval time.Duration
	// DialOverrides, by member id, replace the cluster addresses this
	// node dials that member at. It exists for fault-injection tests,
	// which route every link between nodes through a proxy they control;
	// it only changes where this node's own connections go.
	DialOverrides map[string]string
	// TLS, when set, makes the cluster port mutual TLS: members present
	// certificates that chain to the cluster CA, and refuse peers that do
	// not.
	TLS TLSFiles
}

func (c Config) withDefaults() Config {
	if c.RaftAdvertise == "" {
		c.RaftAdvertise = c.RaftListen
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.ApplyTimeout <= 0 {
		c.ApplyTimeout = 10 * time.Second
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = 8192
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = 65536
	}
	if c.SnapshotBytes == 0 {
		c.SnapshotBytes = 256 << 20
	}
	if c.TrailingBytes == 0 {
		c.TrailingBytes = 512 << 20
	}
	if c.SnapshotInterval <= 0 {
		c.SnapshotInterval = 2 * time.Minute
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.NodeID == "":
		return errors.New("cluster: a node id is required")
	case len(c.NodeID) > 128:
		return fmt.Errorf("cluster: node id is %d bytes, over the limit of 128", len(c.NodeID))
	case c.RaftListen == "":
		return errors.New("cluster: a raft listen address is required")
	case c.DataDir == "":
		return errors.New("cluster: a data directory is required")
	}
	host, _, err := net.SplitHostPort(c.RaftAdvertise)
	if err != nil {
		return fmt.Errorf("cluster: raft address %q: %w", c.RaftAdvertise, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("cluster: raft address %q is not one other nodes can dial; set an advertised address", c.RaftAdvertise)
	}
	return nil
}

// Node is one member of a Junction cluster: the broker's Replicator. It
// runs one raft group that carries station changes and every append to
// every partition, applies them to the local broker, and serves the
// ClusterService. Create it with New, hand it to broker.Open as the
// Replicator, then Start it with the opened broker.
type Node struct {
	cfg   Config
	log   *slog.Logger
	store *boundedLog
	trans *raft.NetworkTransport
	// stream is the cluster port; internal serves the calls of other
	// members on it, and peers makes this node's calls to theirs.
	stream   *streamLayer
	internal *http.Server
	peers    *http.Client
	snaps    raft.SnapshotStore
	raft     *raft.Raft
	fsm      *fsm

	logsMu sync.Mutex
	logs   map[logKey]*replicatedLog
	// applyMu is held (read) while entries are applied, and (write) by a
	// rebuild while it swaps a partition's log.
	applyMu sync.RWMutex
	// repairing is set while this node has damaged partitions;
	// repairLogged once watchHealth logged which.
	repairing    atomic.Bool
	repairLogged bool
	// short holds the partitions this node found short of its last
	// snapshot at start (short.go), shorted is set while there are any,
	// and fillMu serialises filling them.
	shorted atomic.Bool
	shortMu sync.Mutex
	short   map[logKey]shortLog
	fillMu  sync.Mutex

	nodesMu sync.Mutex
	nodes   map[string]nodeInfo // by id; persisted in DATA/raft/nodes.json

	apiAddr string
	groups  meta.GroupStore // the local one, which entries are applied to
	// connectors is the local connector store, which entries are applied
	// to; placement wakes WatchPlacement's watcher.
	connectors meta.ConnectorStore
	placement  chan struct{}
	// auth is the local auth store, which entries are applied to;
	// authChanged wakes OnAuthChange's goroutine (auth.go).
	auth        meta.AuthStore
	authChanged chan struct{}
	onAuth      func()
	// authSeq counts the auth writes applied here, authReloaded the
	// count OnAuthChange's last completed call had seen (leadersync.go).
	authSeq, authReloaded atomic.Uint64
	// fsmApplied is the index of the last entry the FSM applied: raft's
	// AppliedIndex counts entries handed to the FSM, not yet applied.
	fsmApplied atomic.Uint64
	// leaderSync coalesces SyncWithLeader's calls.
	leaderSync coalescer
	// appliedIdx holds, by store, the index of the last write applied
	// to it (applied.go).
	appliedIdx map[string]*appliedIndex
	// readyTerm is the raft term in which this node, leading, applied
	// every earlier entry; readyMu serialises getting there.
	readyTerm atomic.Uint64
	readyMu   sync.Mutex
	// replays is the local dead-letter replay store, which entries are
	// applied to (replay.go).
	replays broker.ReplayStore
	// caughtUp is set once this node knows what the cluster had
	// committed when it started (catchup.go).
	caughtUp atomic.Bool
	// running is set once raft is assigned: the broker's own goroutines
	// may ask whether this node leads before Start is done.
	running   atomic.Bool
	stop      chan struct{}
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup
}

type logKey struct {
	station   string
	partition uint32
}

var _ broker.Replicator = (*Node)(nil)

// New returns a node for cfg. It opens nothing until Start.
func New(cfg Config) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Node{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeID), logs: make(map[logKey]*replicatedLog), stop: make(chan struct{}), placement: make(chan struct{}, 1)}, nil
}

// open opens the raft stores and transport under DATA/raft.
func (n *Node) open() error {
	dir := filepath.Join(n.cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cluster: create %s: %w", dir, err)
	}
	if err := n.loadNodes(); err != nil {
		return err
	}
	hlog := n.hclog()
	s, err := openLogStore(dir, hlog)
	if err != nil {
		return err
	}
	n.store = newBoundedLog(s, n.cfg.SnapshotBytes)
	n.snaps, err = raft.NewFileSnapshotStoreWithLogger(dir, 2, hlog)
	if err != nil {
		return fmt.Errorf("cluster: open snapshots: %w", err)
	}
	adv, err := net.ResolveTCPAddr("tcp", n.cfg.RaftAdvertise)
	if err != nil {
		return fmt.Errorf("cluster: raft address %q: %w", n.cfg.RaftAdvertise, err)
	}
	var tc *tls.Config
	if n.cfg.TLS.Enabled() {
		if tc, err = clusterTLS(n.cfg.TLS); err != nil {
			return err
		}
	}
	stream, err := newStreamLayer(n.cfg.RaftListen, adv, tc)
	if err != nil {
		return fmt.Errorf("cluster: listen for raft on %s: %w", n.cfg.RaftListen, err)
	}
	n.stream = stream
	n.peers = stream.httpClient()
	ntc := &raft.NetworkTransportConfig{Stream: stream, MaxPool: 4, Timeout: 10 * time.Second, Logger: hlog}
	if len(n.cfg.DialOverrides) > 0 {
		ntc.ServerAddressProvider = addressProvider{n}
	}
	n.trans = raft.NewNetworkTransportWithConfig(ntc)
	return nil
}

// hclog routes raft's log into the node's, warnings and up only.
func (n *Node) hclog() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Warn,
		Output: slog.NewLogLogger(n.log.Handler(), slog.LevelWarn).Writer(),
	})
}

// Start starts raft on b: it replays the entries b has not applied yet,
// and then bootstraps a new cluster or joins one per the Config. apiAddr is
// this node's API address, told to the other nodes so they can send
// clients to it. Joining goes on in the background until it succeeds or
// the node closes.
func (n *Node) Start(ctx context.Context, b *broker.Broker, apiAddr string) error {
	n.apiAddr = apiAddr
	n.fsm = &fsm{n: n, b: b}
	if err := n.open(); err != nil {
		n.Close()
		return err
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.NodeID)
	rc.Logger = n.hclog()
	rc.BatchApplyCh = true
	// Up to this many produce entries share one raft log fsync on the
	// leader and one AppendEntries to a follower. Raft bounds it in
	// entries, not bytes: a follower catching up is sent this many
	// entries at once, whatever their size.
	rc.MaxAppendEntries = 512
	rc.CommitTimeout = 5 * time.Millisecond
	rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	rc.TrailingLogs = n.cfg.TrailingLogs
	rc.SnapshotInterval = n.cfg.SnapshotInterval
	// The broker's own files are the state machine: they are as new as
	// the last entry applied before a stop, which replaying from the
	// snapshot would not know.
	rc.NoSnapshotRestoreOnStart = true
	// A node must not vote or lead on data it has not verified.
	if bad := n.scrubAll(ctx, 0); len(bad) > 0 {
		n.repairing.Store(true)
		n.log.Error("damaged partitions found at start; this node will not vote until it has rebuilt them", "partitions", len(bad))
	}
	n.shorted.Store(n.findShort(b))
	existing, err := raft.HasExistingState(n.store, n.store, n.snaps)
	if err != nil {
		n.Close()
		return fmt.Errorf("cluster: read raft state: %w", err)
	}
	logs := newLogCache(n.store, logCacheEntries, logCacheBytes)
	n.raft, err = raft.NewRaft(rc, n.fsm, logs, n.store, n.snaps, n.guardVotes())
	if err != nil {
		n.Close()
		return fmt.Errorf("cluster: start raft: %w", err)
	}
	n.running.Store(true)
	// Other members' calls on the cluster port, once raft is there.
	n.internal = &http.Server{Handler: internalHandler(n), ReadHeaderTimeout: handshakeTimeout, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(n.log.Handler(), slog.LevelWarn)}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.internal.Serve(n.stream.http)
	}()
	n.wg.Add(3)
	go n.watchLeadership()
	go n.watchHealth()
	n.watchAuth()
	go n.watchLogSize(n.store)
	switch {
	case existing:
		n.log.Info("cluster node restarted", "raft", n.cfg.RaftAdvertise)
	case len(n.cfg.Join) == 0:
		f := n.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: n.trans.LocalAddr()}}})
		if err := f.Error(); err != nil {
			n.Close()
			return fmt.Errorf("cluster: bootstrap: %w", err)
		}
		n.log.Info("bootstrapped a new cluster", "raft", n.cfg.RaftAdvertise)
	default:
		n.wg.Add(1)
		go n.join(ctx)
	}
	n.watchCatchUp(!existing && len(n.cfg.Join) == 0)
	return nil
}

// join asks the members in Config.Join to add this node, until one does.
func (n *Node) join(ctx context.Context) {
	defer n.wg.Done()
	ctx, cancel := n.untilClosed(ctx, 0)
	defer cancel()
	req := nodeInfo{ID: n.cfg.NodeID, Raft: n.cfg.RaftAdvertise, API: n.apiAddr}
	for attempt := 0; ; attempt++ {
		for _, addr := range n.cfg.Join {
			err := askToJoin(ctx, n.peers, addr, req)
			if err == nil {
				n.log.Info("joined the cluster", "via", addr)
				return
			}
			if attempt%10 == 0 {
				n.log.Warn("join the cluster", "via", addr, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// watchLeadership registers this node's addresses whenever it becomes
// leader and they are not yet known as they are.
func (n *Node) watchLeadership() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case leader := <-n.raft.LeaderCh():
			if !leader {
				continue
			}
			self := nodeInfo{ID: n.cfg.NodeID, Raft: n.cfg.RaftAdvertise, API: n.apiAddr}
			cur, ok := n.node(self.ID)
			self.Repairing = cur.Repairing
			if ok && cur == self {
				continue
			}
			if err := n.register(self); err != nil {
				n.log.Warn("register this node's addresses", "err", err)
			}
		}
	}
}

// register records a node's addresses in the cluster.
func (n *Node) register(info nodeInfo) error {
	data, err := encodeJSON(kindNode, info)
	if err != nil {
		return err
	}
	_, err = n.apply(data)
	return err
}

// apply proposes data and returns the FSM's response once it is applied
// here. Only the leader may call it.
func (n *Node) apply(data []byte) (any, error) {
	f := n.raft.Apply(data, n.cfg.ApplyTimeout)
	if err := f.Error(); err != nil {
		return nil, n.raftErr(err)
	}
	resp := f.Response()
	if err, ok := resp.(error); ok {
		return nil, err
	}
	return resp, nil
}

// ErrOutcomeUnknown is matched by errors of changes that may or may not
// have been applied: leadership was lost while they were replicated.
// Retry produces with message ids so the station's dedup keeps one copy.
var ErrOutcomeUnknown = broker.ErrOutcomeUnknown

// raftErr turns raft's errors into the broker's.
func (n *Node) raftErr(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return &broker.NotLeaderError{Leader: n.LeaderAPI()}
	case errors.Is(err, raft.ErrLeadershipLost):
		return fmt.Errorf("%w: leadership was lost while replicating: %w", ErrOutcomeUnknown, &broker.NotLeaderError{Leader: n.LeaderAPI()})
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("cluster: %w", broker.ErrClosed)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("cluster: raft is too busy to take the entry: %w", err)
	}
	return fmt.Errorf("cluster: %w", err)
}

// notLeader returns a NotLeaderError when this node is not the leader.
func (n *Node) notLeader() error {
	if !n.running.Load() {
		return &broker.NotLeaderError{}
	}
	if n.raft.State() == raft.Leader {
		return nil
	}
	return &broker.NotLeaderError{Leader: n.LeaderAPI()}
}

// LeaderAPI returns the API address of the leader, or "" when none is
// known.
func (n *Node) LeaderAPI() string {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return ""
	}
	info, _ := n.node(string(id))
	return info.API
}

// IsLeader reports whether this node is the leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Close leaves raft (without leaving the cluster) and closes its stores.
// Close the broker after it.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		close(n.stop)
		var errs []error
		if n.raft != nil {
			errs = append(errs, n.raft.Shutdown().Error())
		}
		if n.internal != nil {
			errs = append(errs, n.internal.Close())
		}
		n.wg.Wait()
		if n.trans != nil {
			errs = append(errs, n.trans.Close())
		}
		if n.store != nil {
			errs = append(errs, n.store.Close())
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

func (n *Node) node(id string) (nodeInfo, bool) {
	n.nodesMu.Lock()
	defer n.nodesMu.Unlock()
	info, ok := n.nodes[id]
	return info, ok
}

func (n *Node) nodesPath() string { return filepath.Join(n.cfg.DataDir, "raft", "nodes.json") }

func (n *Node) loadNodes() error {
	n.nodes = make(map[string]nodeInfo)
	b, err := os.ReadFile(n.nodesPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	var list []nodeInfo
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("cluster: %s: %w", n.nodesPath(), err)
	}
	for _, info := range list {
		n.nodes[info.ID] = info
	}
	return nil
}

// setNodes replaces what the node knows of members' addresses and
// persists it (atomically: a temporary file renamed over the old one).
func (n *Node) setNodes(update func(map[string]nodeInfo)) error {
	n.nodesMu.Lock()
	defer n.nodesMu.Unlock()
	update(n.nodes)
	list := make([]nodeInfo, 0, len(n.nodes))
	for _, info := range n.nodes {
		list = append(list, info)
	}
	slices.SortFunc(list, func(a, b nodeInfo) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	b, err := json.Marshal(list)
	if err != nil {
		return err
	}
	return writeFileSync(n.nodesPath(), b)
}

func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
