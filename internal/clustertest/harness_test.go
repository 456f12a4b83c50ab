package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// junctionBin is the junction binary TestMain builds.
var junctionBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "junction-clustertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	junctionBin = filepath.Join(dir, "junction")
	cmd := exec.Command("go", "build", "-o", junctionBin, "github.com/junctionhq/junction/cmd/junction")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build junction:", err)
		return 1
	}
	return m.Run()
}

// node is one junction process of a test cluster.
type node struct {
	id        string
	api, raft string // 127.0.0.1:port
	data      string
	logPath   string
	// args are more flags for this node's junction server.
	args   []string
	cmd    *exec.Cmd
	exited chan struct{}
	// up is set while the process runs; producers read it.
	up atomic.Bool
}

// cluster is a test cluster of junction processes.
type cluster struct {
	t     *testing.T
	nodes []*node
	hc    *http.Client
	// extra are more flags for every node's junction server.
	extra []string
	dir   string
	// links are the proxies between nodes, by (from, to) id, when the
	// cluster was made withProxies.
	links map[[2]string]*link
	// joinClusterPort makes nodes join through the first node's cluster
	// port rather than its API.
	joinClusterPort bool
}

func (c *cluster) newNode(i, apiPort, raftPort int) *node {
	id := "n" + strconv.Itoa(i)
	return &node{
		id:      id,
		api:     "127.0.0.1:" + strconv.Itoa(apiPort),
		raft:    "127.0.0.1:" + strconv.Itoa(raftPort),
		data:    filepath.Join(c.dir, id),
		logPath: filepath.Join(c.dir, id+".log"),
	}
}

// addNode starts one more node, which joins the cluster, and waits until
// the leader counts it as a voter.
func (c *cluster) addNode() *node {
	c.t.Helper()
	ports := freePorts(c.t, 2)
	n := c.newNode(len(c.nodes)+1, ports[0], ports[1])
	c.nodes = append(c.nodes, n)
	c.start(n)
	c.await(60*time.Second, n.id+" to become a voter", func() bool {
		l := c.leaderNow()
		if l == nil {
			return false
		}
		st, err := c.status(l)
		if err != nil {
			return false
		}
		for _, m := range st.Nodes {
			if m.Id == n.id && m.Voter && m.ApiAddress == n.api {
				return true
			}
		}
		return false
	})
	return n
}

// newCluster starts size nodes: the first bootstraps, the others join it,
// and it returns once every node is a member and a leader is known.
func newCluster(t *testing.T, size int, extra ...string) *cluster {
	t.Helper()
	c := prepareCluster(t, size, extra...)
	c.startAll()
	return c
}

// prepareCluster makes a cluster of size nodes without starting them.
func prepareCluster(t *testing.T, size int, extra ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, hc: &http.Client{Timeout: 10 * time.Second}, extra: extra}
	ports := freePorts(t, 2*size)
	dir := t.TempDir()
	c.dir = dir
	for i := range size {
		c.nodes = append(c.nodes, c.newNode(i+1, ports[2*i], ports[2*i+1]))
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			c.kill(n)
		}
		if t.Failed() {
			for _, n := range c.nodes {
				b, _ := os.ReadFile(n.logPath)
				t.Logf("log of %s:\n%s", n.id, tail(b, 4000))
			}
		}
	})
	return c
}

// startAll starts every node and returns once every node is a member and
// a leader is known.
func (c *cluster) startAll() {
	c.t.Helper()
	for _, n := range c.nodes {
		c.start(n)
	}
	c.waitMembers(len(c.nodes))
	l := c.leader()
	for _, n := range c.nodes {
		if n != l {
			c.awaitCaughtUp(n)
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// start runs n's process (again, after a kill) and waits for its API.
func (c *cluster) start(n *node) {
	c.t.Helper()
	args := []string{"server", "--data", n.data, "--listen", n.api, "--node-id", n.id, "--cluster-listen", n.raft,
		"--plugins", filepath.Join(n.data, "no-plugins"), "--log-level", "info"}
	if n != c.nodes[0] {
		join := c.nodes[0].api
		if c.joinClusterPort {
			join = c.nodes[0].raft
		}
		args = append(args, "--join", join)
	}
	args = append(args, c.extra...)
	args = append(args, n.args...)
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	n.cmd = exec.Command(junctionBin, args...)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	if err := n.cmd.Start(); err != nil {
		logf.Close()
		c.t.Fatalf("start %s: %v", n.id, err)
	}
	n.exited = make(chan struct{})
	n.up.Store(true)
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		logf.Close()
		close(done)
	}(n.cmd, n.exited)
	c.await(30*time.Second, n.id+" serving its API", func() bool {
		resp, err := c.hc.Get("http://" + n.api + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// A node that joins or restarts answers callers once it has caught
	// up with the cluster: wait for that when a leader is there for it.
	if l := c.leaderNow(); l != nil && l != n && c.reaches(n, l) && c.member(l, n) {
		c.awaitCaughtUp(n)
	}
}

// member reports whether leader l counts n among the members.
func (c *cluster) member(l, n *node) bool {
	st, err := c.status(l)
	if err != nil {
		return false
	}
	for _, m := range st.Nodes {
		if m.Id == n.id {
			return true
		}
	}
	return false
}

// reaches reports whether from's link to to passes traffic.
func (c *cluster) reaches(from, to *node) bool {
	l := c.links[[2]string{from.id, to.id}]
	if l == nil {
		return true
	}
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	return l.p.mode == pass
}

// awaitCaughtUp waits until n no longer answers "catching up".
func (c *cluster) awaitCaughtUp(n *node) {
	c.t.Helper()
	c.await(60*time.Second, n.id+" to catch up with the cluster", func() bool {
		_, err := c.status(n)
		return !catchingUp(err)
	})
}

// catchingUp reports whether err is a node's "catching up" refusal.
func catchingUp(err error) bool {
	return connect.CodeOf(err) == connect.CodeUnavailable && strings.Contains(err.Error(), "catching up")
}

// signal sends sig to n's process.
func (c *cluster) signal(n *node, sig syscall.Signal) {
	c.t.Helper()
	if err := n.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal %s: %v", n.id, err)
	}
}

// kill SIGKILLs n's process and waits for it to exit.
func (c *cluster) kill(n *node) {
	if n.cmd == nil {
		return
	}
	n.up.Store(false)
	n.cmd.Process.Signal(syscall.SIGKILL)
	n.cmd.Process.Signal(syscall.SIGCONT)
	<-n.exited
	n.cmd = nil
}

// stop stops n gracefully (SIGTERM) and waits for it to exit.
func (c *cluster) stop(n *node) {
	c.t.Helper()
	n.up.Store(false)
	c.signal(n, syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		c.t.Fatalf("%s did not stop within 30s of SIGTERM", n.id)
	}
	n.cmd = nil
}

func (c *cluster) alive() []*node {
	var out []*node
	for _, n := range c.nodes {
		if n.up.Load() {
			out = append(out, n)
		}
	}
	return out
}

// await polls cond until it holds, failing the test after d.
func (c *cluster) await(d time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *cluster) clusterClient(n *node) junctionv1connect.ClusterServiceClient {
	return junctionv1connect.NewClusterServiceClient(c.hc, "http://"+n.api)
}

func (c *cluster) status(n *node) (*v1.ClusterStatusResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	resp, err := c.clusterClient(n).Status(ctx, connect.NewRequest(&v1.ClusterStatusRequest{}))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// waitMembers waits until a live node leads a configuration of size
// voters whose API addresses are all known.
func (c *cluster) waitMembers(size int) {
	c.t.Helper()
	c.await(60*time.Second, fmt.Sprintf("a leader of %d voters", size), func() bool {
		l := c.leaderNow()
		if l == nil {
			return false
		}
		st, err := c.status(l)
		if err != nil || len(st.Nodes) != size {
			return false
		}
		for _, n := range st.Nodes {
			if !n.Voter || n.ApiAddress == "" {
				return false
			}
		}
		return true
	})
}

// leaderNow returns the live node that says it is the leader, or nil.
func (c *cluster) leaderNow() *node {
	for _, n := range c.alive() {
		if st, err := c.status(n); err == nil && st.State == "leader" {
			return n
		}
	}
	return nil
}

// leader waits for a live leader and returns it.
func (c *cluster) leader() *node {
	c.t.Helper()
	var l *node
	c.await(60*time.Second, "a leader", func() bool {
		l = c.leaderNow()
		return l != nil
	})
	return l
}

// follower returns a live node other than the leader.
func (c *cluster) follower() *node {
	c.t.Helper()
	l := c.leader()
	for _, n := range c.alive() {
		if n != l {
			return n
		}
	}
	c.t.Fatal("no live follower")
	return nil
}

// createStation creates a station through the leader.
func (c *cluster) createStation(name string, partitions uint32, dedup time.Duration) {
	c.t.Helper()
	c.await(60*time.Second, "station "+name+" created", func() bool {
		l := c.leaderNow()
		if l == nil {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sc := junctionv1connect.NewStationServiceClient(c.hc, "http://"+l.api)
		_, err := sc.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: name, Partitions: partitions, DedupWindow: durationpb.New(dedup)}}))
		if connect.CodeOf(err) == connect.CodeAlreadyExists {
			return true
		}
		return err == nil
	})
}

// readAll reads a whole partition as stored on n.
func (c *cluster) readAll(n *node, station string, partition uint32) ([]*v1.Delivery, uint64, error) {
	var out []*v1.Delivery
	var from uint64
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := c.clusterClient(n).ReadPartition(ctx, connect.NewRequest(&v1.ReadPartitionRequest{Station: station, Partition: partition, From: from}))
		cancel()
		if err != nil {
			return nil, 0, err
		}
		out = append(out, resp.Msg.Records...)
		if len(resp.Msg.Records) == 0 || from >= resp.Msg.NextOffset {
			return out, resp.Msg.NextOffset, nil
		}
		from = resp.Msg.Records[len(resp.Msg.Records)-1].Offset + 1
		if from >= resp.Msg.NextOffset {
			return out, resp.Msg.NextOffset, nil
		}
	}
}

// awaitHolds waits until follower holds every message of the first
// partitions of station that the current leader, another node, holds.
func (c *cluster) awaitHolds(follower *node, station string, partitions int) {
	c.await(60*time.Second, follower.id+" to hold every message", func() bool {
		l := c.leaderNow()
		if l == nil || l == follower {
			return false
		}
		for p := range uint32(partitions) {
			want, err := c.nextOffset(l, station, p)
			if err != nil {
				return false
			}
			have, err := c.nextOffset(follower, station, p)
			if err != nil || have != want {
				return false
			}
		}
		return true
	})
}

// nextOffset is a partition's next offset on n.
func (c *cluster) nextOffset(n *node, station string, partition uint32) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	resp, err := c.clusterClient(n).ReadPartition(ctx, connect.NewRequest(&v1.ReadPartitionRequest{Station: station, Partition: partition, From: 1 << 62}))
	if err != nil {
		return 0, err
	}
	return resp.Msg.NextOffset, nil
}

// leaderOf returns the leader address of a NOT_LEADER error, or "".
func leaderOf(err error) string {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return ""
	}
	for _, d := range ce.Details() {
		if v, derr := d.Value(); derr == nil {
			if info, ok := v.(*v1.ErrorInfo); ok && info.Reason == v1.ErrorReason_ERROR_REASON_NOT_LEADER {
				return info.Leader
			}
		}
	}
	return ""
}

// sameRecord reports whether two stored records are byte-identical.
func sameRecord(a, b *v1.Delivery) bool {
	if a.Offset != b.Offset || !a.Timestamp.AsTime().Equal(b.Timestamp.AsTime()) || !bytes.Equal(a.Key, b.Key) ||
		!bytes.Equal(a.Value, b.Value) || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || !bytes.Equal(a.Headers[i].Value, b.Headers[i].Value) {
			return false
		}
	}
	return true
}
