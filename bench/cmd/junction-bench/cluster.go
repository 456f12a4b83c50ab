package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/junctionhq/junction/sdk/client"
)

// Cluster workloads: the produce-1p and latency workloads run against a
// 3-node Junction cluster (three child processes on loopback; every
// station is replicated to the three, a produce acknowledged once a
// majority fsynced it) and, with -compare, a 3-node NATS JetStream cluster
// embedded in this process (file storage, streams with 3 replicas). Their
// rows and RESULT lines carry the prefix "r3-".

// clusterPrefix marks the workload kinds that run on the clusters.
const clusterPrefix = "r3-"

// clusterNodes is the size of both clusters.
const clusterNodes = 3

// clusterKind reports whether a workload kind runs on the clusters, and
// returns the single-node kind it repeats.
func clusterKind(kind string) (string, bool) { return strings.CutPrefix(kind, clusterPrefix) }

// clusters starts the clusters on first use and stops them at the end.
type clusters struct {
	targets []target
}

// start returns the cluster targets, starting them the first time.
func (c *clusters) start(ctx context.Context, cfg config) ([]target, error) {
	if c.targets != nil {
		return c.targets, nil
	}
	fmt.Fprintln(os.Stderr, "starting a 3-node junction cluster")
	j, err := startJunctionCluster(ctx, cfg.junction)
	if err != nil {
		return nil, err
	}
	c.targets = append(c.targets, j)
	if cfg.compare {
		fmt.Fprintln(os.Stderr, "starting a 3-node nats cluster")
		n, err := startNATSCluster(ctx, cfg.natsSync)
		if err != nil {
			return nil, err
		}
		c.targets = append(c.targets, n)
	}
	return c.targets, nil
}

// Close stops the clusters.
func (c *clusters) Close() {
	for _, t := range c.targets {
		t.Close()
	}
}

// relabel names rows of a cluster run after their cluster kind.
func relabel(rows []row) {
	for i := range rows {
		rows[i].workload = clusterPrefix + rows[i].workload
	}
}

// junctionCluster is three junction processes forming a cluster; its
// workloads run through the leader, where produces and consumer groups are
// served.
type junctionCluster struct {
	*junction
	dir   string
	nodes []*exec.Cmd
}

// startJunctionCluster starts three nodes (the first bootstraps, the
// others join it) and waits until the three are voters under one leader.
func startJunctionCluster(ctx context.Context, bin string) (_ *junctionCluster, err error) {
	dir, err := os.MkdirTemp("", "junction-bench-cluster-")
	if err != nil {
		return nil, err
	}
	jc := &junctionCluster{dir: dir}
	defer func() {
		if err != nil {
			jc.Close()
		}
	}()
	if bin == "" {
		if bin, err = buildJunction(ctx, dir); err != nil {
			return nil, err
		}
	}
	var apis []string
	for i := range clusterNodes {
		api, raft, err := twoPorts()
		if err != nil {
			return nil, err
		}
		id := "n" + strconv.Itoa(i+1)
		args := []string{"server", "--data", filepath.Join(dir, id), "--listen", api, "--node-id", id,
			"--cluster-listen", raft, "--log-level", "warn"}
		if i > 0 {
			args = append(args, "--join", apis[0])
		}
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start junction node %s: %w", id, err)
		}
		jc.nodes = append(jc.nodes, cmd)
		if err := waitHealthy(ctx, "http://"+api+"/healthz"); err != nil {
			return nil, err
		}
		apis = append(apis, api)
	}
	leader, err := awaitJunctionLeader(ctx, apis)
	if err != nil {
		return nil, err
	}
	c, err := client.ConnectCluster(ctx, apis)
	if err != nil {
		return nil, err
	}
	jc.junction = &junction{addr: leader, c: c}
	return jc, nil
}

// awaitJunctionLeader waits until the cluster has clusterNodes voters and a
// leader, and returns the leader's API address.
func awaitJunctionLeader(ctx context.Context, apis []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := client.Connect(ctx, apis[0])
	if err != nil {
		return "", err
	}
	defer c.Close()
	for {
		st, err := c.ClusterStatus(ctx)
		if err == nil && len(st.Nodes) == clusterNodes {
			voters, leader := 0, ""
			for _, n := range st.Nodes {
				if n.Voter && n.APIAddress != "" {
					voters++
				}
				if n.Leader {
					leader = n.APIAddress
				}
			}
			if voters == clusterNodes && leader != "" {
				return leader, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("junction cluster: no leader over %d voters: %w", clusterNodes, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func twoPorts() (string, string, error) {
	var addrs []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", err
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs[0], addrs[1], nil
}

// Close kills the nodes and removes their data.
func (jc *junctionCluster) Close() {
	if jc.junction != nil && jc.c != nil {
		jc.c.Close()
	}
	for _, cmd := range jc.nodes {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	os.RemoveAll(jc.dir)
}

// natsCluster is three embedded NATS servers in one JetStream cluster.
// Its workloads connect to the first server; streams have 3 replicas.
type natsCluster struct {
	*natsTarget
	dir  string
	srvs []*server.Server
}

// replicated makes every stream the workloads create have clusterNodes
// replicas.
type replicated struct{ jetstream.JetStream }

func (r replicated) CreateStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	cfg.Replicas = clusterNodes
	return r.JetStream.CreateStream(ctx, cfg)
}

// startNATSCluster starts the servers, routed to each other, and waits
// until JetStream answers (a meta leader is elected).
func startNATSCluster(ctx context.Context, syncAlways bool) (_ *natsCluster, err error) {
	dir, err := os.MkdirTemp("", "nats-bench-cluster-")
	if err != nil {
		return nil, err
	}
	nc := &natsCluster{dir: dir}
	defer func() {
		if err != nil {
			nc.Close()
		}
	}()
	var clients, routes []string
	for range clusterNodes {
		c, r, err := twoPorts()
		if err != nil {
			return nil, err
		}
		clients, routes = append(clients, c), append(routes, "nats://"+r)
	}
	for i := range clusterNodes {
		_, cport, _ := net.SplitHostPort(clients[i])
		_, rport, _ := net.SplitHostPort(strings.TrimPrefix(routes[i], "nats://"))
		cp, _ := strconv.Atoi(cport)
		rp, _ := strconv.Atoi(rport)
		name := "n" + strconv.Itoa(i+1)
		srv, err := server.NewServer(&server.Options{
			ServerName: name, Host: "127.0.0.1", Port: cp,
			JetStream: true, StoreDir: filepath.Join(dir, name), SyncAlways: syncAlways,
			Cluster: server.ClusterOpts{Name: "bench", Host: "127.0.0.1", Port: rp},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
			NoLog:   true, NoSigs: true,
		})
		if err != nil {
			return nil, fmt.Errorf("nats server %s: %w", name, err)
		}
		go srv.Start()
		nc.srvs = append(nc.srvs, srv)
	}
	for _, srv := range nc.srvs {
		if !srv.ReadyForConnections(10 * time.Second) {
			return nil, errors.New("nats cluster: a server is not ready after 10s")
		}
	}
	conn, err := nats.Connect(nc.srvs[0].ClientURL())
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	nc.natsTarget = &natsTarget{srv: nc.srvs[0], nc: conn, js: replicated{js}}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		actx, acancel := context.WithTimeout(wctx, 2*time.Second)
		_, err := js.AccountInfo(actx)
		acancel()
		if err == nil {
			return nc, nil
		}
		select {
		case <-wctx.Done():
			return nil, fmt.Errorf("nats cluster: JetStream not ready: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close stops the servers and removes their stores.
func (nc *natsCluster) Close() {
	if nc.natsTarget != nil && nc.nc != nil {
		nc.nc.Close()
	}
	for _, srv := range nc.srvs {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
	os.RemoveAll(nc.dir)
}
