package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

const s3Bucket = "junction-cluster"

// fakeS3 is an in-process S3 server on 127.0.0.1.
type fakeS3 struct {
	backend *s3mem.Backend
	url     string
}

func newFakeS3(t *testing.T) *fakeS3 {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(s3Bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	return &fakeS3{backend: backend, url: srv.URL}
}

// lines returns every line of every object under prefix.
func (f *fakeS3) lines(t *testing.T, prefix string) []string {
	t.Helper()
	list, err := f.backend.ListBucket(s3Bucket, &gofakes3.Prefix{Prefix: prefix, HasPrefix: true}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatalf("list the bucket: %v", err)
	}
	var out []string
	for _, c := range list.Contents {
		obj, err := f.backend.GetObject(s3Bucket, c.Key, nil)
		if err != nil {
			t.Fatalf("get %s: %v", c.Key, err)
		}
		body, err := io.ReadAll(obj.Contents)
		obj.Contents.Close()
		if err != nil {
			t.Fatalf("read %s: %v", c.Key, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			out = append(out, sc.Text())
		}
	}
	return out
}

// buildPlugin builds a connector plugin into a new directory, which it
// returns, for every node's --plugins.
func buildPlugin(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "github.com/junctionhq/junction/connectors/"+name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the %s plugin: %v\n%s", name, err, out)
	}
	return dir
}

func (c *cluster) connectorClient(n *node) junctionv1connect.ConnectorServiceClient {
	return junctionv1connect.NewConnectorServiceClient(c.hc, "http://"+n.api)
}

func (c *cluster) applyConnector(n *node, def string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := c.connectorClient(n).ApplyConnector(ctx, connect.NewRequest(&v1.ApplyConnectorRequest{FileName: "test.yaml", Definition: []byte(def)}))
	return err
}

// connectorState is a connector's state as node n reports it.
func (c *cluster) connectorState(n *node, name string) v1.ConnectorState {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.connectorClient(n).GetConnector(ctx, connect.NewRequest(&v1.GetConnectorRequest{Name: name}))
	if err != nil {
		return v1.ConnectorState_CONNECTOR_STATE_UNSPECIFIED
	}
	return resp.Msg.Connector.State
}

// awaitPlacementOnLeader waits until the connector runs on the node that
// leads at the time, and stands by on every other live node; it returns
// that leader.
func (c *cluster) awaitPlacementOnLeader(name string) *node {
	c.t.Helper()
	var l *node
	c.await(90*time.Second, name+" running on the leader only", func() bool {
		if l = c.leaderNow(); l == nil {
			return false
		}
		for _, n := range c.alive() {
			want := v1.ConnectorState_CONNECTOR_STATE_STANDBY
			if n == l {
				want = v1.ConnectorState_CONNECTOR_STATE_RUNNING
			}
			if c.connectorState(n, name) != want {
				return false
			}
		}
		return true
	})
	return l
}

// awaitPlacement waits until the connector runs on node on and stands by
// on every other live node.
func (c *cluster) awaitPlacement(name string, on *node) {
	c.t.Helper()
	c.await(90*time.Second, name+" running on "+on.id+" only", func() bool {
		for _, n := range c.alive() {
			want := v1.ConnectorState_CONNECTOR_STATE_STANDBY
			if n == on {
				want = v1.ConnectorState_CONNECTOR_STATE_RUNNING
			}
			if c.connectorState(n, name) != want {
				return false
			}
		}
		return true
	})
}

func s3Sink(name, prefix, pin string, f *fakeS3) string {
	def := fmt.Sprintf(`name: %s
connector: s3
kind: sink
station: %s
batch: {max_records: 50, max_wait: 50ms}
config:
  bucket: %s
  endpoint: %s
  region: us-east-1
  force_path_style: true
  access_key_id: test
  secret_access_key: test
  prefix: %s
  format: lines
`, name, station, s3Bucket, f.url, prefix)
	if pin != "" {
		def += "node: " + pin + "\n"
	}
	return def
}

// onceInBucket checks that the bucket holds, under prefix, each of stored
// exactly once and nothing else.
func onceInBucket(t *testing.T, f *fakeS3, prefix string, stored []string) {
	t.Helper()
	seen := make(map[string]int)
	for _, v := range f.lines(t, prefix) {
		seen[v]++
	}
	for _, v := range stored {
		if seen[v] != 1 {
			t.Errorf("%s: message %s is in the bucket %d times, want once", prefix, v, seen[v])
		}
		delete(seen, v)
	}
	for v, k := range seen {
		t.Errorf("%s: the bucket holds %s (%d times), which the station does not", prefix, v, k)
	}
}

// TestSinkMovesWithTheLeader runs the S3 sink on a 3-node cluster under
// producers and SIGKILLs the leader mid-stream: the sink must move to the
// new leader, resume from the replicated checkpoints, and leave every
// stored message in the bucket exactly once. A follower refuses connector
// changes, naming the leader; a new leader applies its --connectors
// directory; a sink pinned to a node runs there, leading or not.
func TestSinkMovesWithTheLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	plugins := buildPlugin(t, "s3")
	f := newFakeS3(t)
	defs := t.TempDir()
	if err := os.WriteFile(filepath.Join(defs, "from-dir.yaml"), []byte(s3Sink("from-dir", "dir/", "", f)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The station does not exist yet when the first leader applies the
	// directory: the definition is refused then, and applied by the next.
	c := newCluster(t, 3, "--plugins", plugins, "--connectors", defs)
	c.createStation(station, partitions, time.Hour)

	// Until the leader is killed, calls follow whichever node leads: on a
	// starved machine the leadership may move before that.
	c.followerNamesLeader(60*time.Second, "a connector", func(fl *node) error {
		return c.applyConnector(fl, s3Sink("to-s3", "out/", "", f))
	})
	c.onLeader(90*time.Second, "the sink applied on the leader", func(l *node) bool {
		err := c.applyConnector(l, s3Sink("to-s3", "out/", "", f))
		if err != nil {
			t.Logf("apply on the leader %s: %v", l.id, err)
		}
		return err == nil
	})
	c.awaitPlacementOnLeader("to-s3")

	w := startWorkload(c, station, producers, producers)
	w.awaitAcked(300)
	c.await(60*time.Second, "the sink to upload some records", func() bool { return len(f.lines(t, "out/")) > 0 })
	l := c.awaitPlacementOnLeader("to-s3")
	c.kill(l)
	t.Logf("killed leader %s", l.id)
	w.awaitAcked(300)
	nl := c.awaitPlacementOnLeader("to-s3")
	ops := w.halt()
	check(t, c, station, partitions, ops)

	var stored []string
	for p := range uint32(partitions) {
		recs, _, err := c.readAll(nl, station, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			stored = append(stored, string(r.Value))
		}
	}
	c.await(90*time.Second, fmt.Sprintf("all %d stored messages in the bucket", len(stored)), func() bool {
		return len(f.lines(t, "out/")) >= len(stored)
	})
	onceInBucket(t, f, "out/", stored)
	t.Logf("%d messages, each once in the bucket across the failover from %s to %s", len(stored), l.id, nl.id)

	c.awaitPlacementOnLeader("from-dir")
	c.await(90*time.Second, "the sink applied from the new leader's directory to upload every message", func() bool {
		return len(f.lines(t, "dir/")) >= len(stored)
	})
	onceInBucket(t, f, "dir/", stored)

	// A sink pinned to a follower runs there, and stays there when the
	// leadership moves to it.
	pin := c.follower()
	c.onLeader(90*time.Second, "the pinned sink applied", func(l *node) bool {
		err := c.applyConnector(l, s3Sink("pinned", "pinned/", pin.id, f))
		if err != nil {
			t.Logf("apply the pinned sink on %s: %v", l.id, err)
		}
		return err == nil
	})
	c.awaitPlacement("pinned", pin)
	c.transferTo(pin)
	c.awaitPlacement("pinned", pin)
	c.awaitPlacementOnLeader("to-s3")
	c.await(90*time.Second, "the pinned sink to upload every message", func() bool {
		return len(f.lines(t, "pinned/")) >= len(stored)
	})

	// Pause and delete are changes too: a follower refuses them.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c.followerNamesLeader(60*time.Second, "a pause", func(fl *node) error {
		_, err := c.connectorClient(fl).PauseConnector(ctx, connect.NewRequest(&v1.PauseConnectorRequest{Name: "pinned"}))
		return err
	})
	c.followerNamesLeader(60*time.Second, "a delete", func(fl *node) error {
		_, err := c.connectorClient(fl).DeleteConnector(ctx, connect.NewRequest(&v1.DeleteConnectorRequest{Name: "pinned"}))
		return err
	})
	// A retry after an unknown outcome finds the connector gone already.
	c.onLeader(60*time.Second, "the pinned sink deleted on the leader", func(l *node) bool {
		_, err := c.connectorClient(l).DeleteConnector(ctx, connect.NewRequest(&v1.DeleteConnectorRequest{Name: "pinned"}))
		if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
			t.Logf("delete on the leader %s: %v", l.id, err)
			return false
		}
		return true
	})
	c.await(30*time.Second, "every node to forget the deleted connector", func() bool {
		for _, n := range c.alive() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := c.connectorClient(n).GetConnector(ctx, connect.NewRequest(&v1.GetConnectorRequest{Name: "pinned"}))
			cancel()
			if connect.CodeOf(err) != connect.CodeNotFound {
				return false
			}
		}
		return true
	})
}
