package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/junctionhq/junction/broker/cluster"
	"github.com/junctionhq/junction/server"
)

func TestClusterUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"server", "--node-id", "n1"},
		{"server", "--cluster-listen", "127.0.0.1:7401"},
		{"server", "--join", "127.0.0.1:7400"},
	} {
		_, errs, code := runCLI(t, "", args...)
		if code != 2 || !strings.Contains(errs, "--node-id and --cluster-listen go together") {
			t.Errorf("junction %s: exit %d, stderr %q", strings.Join(args, " "), code, errs)
		}
	}
	if _, errs, code := runCLI(t, "", "cluster", "remove-node"); code != 2 || !strings.Contains(errs, "takes 1 argument(s): ID") {
		t.Errorf("cluster remove-node without an id: exit %d, stderr %q", code, errs)
	}
}

func TestClusterStatusOnASingleNode(t *testing.T) {
	addr := startBroker(t)
	_, errs, code := runCLI(t, "", "--server", addr, "cluster", "status")
	if code != 1 || !strings.Contains(errs, "single node") {
		t.Errorf("exit %d, stderr %q; want a failure saying it is a single node", code, errs)
	}
}

// TestClusterOfOne runs a one-node cluster in-process: it bootstraps,
// leads, and stores through raft what the CLI produces.
func TestClusterOfOne(t *testing.T) {
	addr := startClusterOfOne(t)
	waitFor(t, "the node to lead and know its API address", func() bool {
		out, _, code := runCLI(t, "", "--server", addr, "cluster", "status")
		return code == 0 && strings.Contains(out, "solo  leader") && strings.Contains(out, addr)
	})
	out, _ := cli(t, addr, "", "cluster", "status", "-o", "json")
	if !strings.Contains(out, `"NodeID": "solo"`) || !strings.Contains(out, addr) {
		t.Errorf("status -o json: %s", out)
	}
	cli(t, addr, "", "station", "create", "orders")
	cli(t, addr, "a\nb\nc\n", "produce", "orders")
	out, _ = cli(t, addr, "", "consume", "orders", "--group", "g", "--count", "3")
	if strings.Count(out, "\n") != 3 || !strings.Contains(out, "a") || !strings.Contains(out, "c") {
		t.Errorf("consumed %q", out)
	}
}

// startClusterOfOne starts an in-process one-node cluster, node "solo", and
// returns its API address; it is stopped when the test ends.
func startClusterOfOne(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	raftLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	raftAddr := raftLn.Addr().String()
	raftLn.Close()
	srv, err := server.Start(context.Background(), server.Options{
		DataDir: t.TempDir(),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Cluster: &cluster.Config{NodeID: "solo", RaftListen: raftAddr},
	}, ln)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()
	return addr
}
