package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

const ordersStation = "orders"

// orderSchema accepts {"id": <integer>} objects.
var orderSchema = &v1.SchemaDefinition{Type: v1.SchemaType_SCHEMA_TYPE_JSON, Files: []*v1.SchemaFile{{Name: "order.json",
	Content: []byte(`{"type":"object","required":["id"],"properties":{"id":{"type":"integer"}}}`)}}}

func (c *cluster) schemaClient(n *node) junctionv1connect.SchemaServiceClient {
	return junctionv1connect.NewSchemaServiceClient(c.hc, "http://"+n.api)
}

// produceOrder produces one message to the orders station on n.
func (c *cluster) produceOrder(n *node, value string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	mc := junctionv1connect.NewMessageServiceClient(c.hc, "http://"+n.api)
	_, err := mc.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: ordersStation, Messages: []*v1.Message{{Value: []byte(value)}}}))
	return err
}

// stationSchema returns the schema n has attached to the orders station,
// "" for none.
func (c *cluster) stationSchema(n *node) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	sc := junctionv1connect.NewStationServiceClient(c.hc, "http://"+n.api)
	resp, err := sc.GetStation(ctx, connect.NewRequest(&v1.GetStationRequest{Name: ordersStation}))
	if err != nil {
		return "", err
	}
	return resp.Msg.Station.GetSchema().GetName(), nil
}

// TestSchemaSurvivesLeaderLoss registers a schema and attaches it to a
// station on the leader while a follower is down, long enough that the
// follower catches up from a snapshot; then SIGKILLs the leader. Every
// node holds the schema and the attachment, and the new leader rejects a
// produce that breaks the schema and takes one that keeps it.
func TestSchemaSurvivesLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3, "--cluster-snapshot-threshold", "50", "--cluster-trailing-logs", "10", "--cluster-snapshot-interval", "200ms")
	c.createStation(ordersStation, 1, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	down := c.follower()
	c.kill(down)
	// A follower refuses the write and names the leader. Until the leader
	// is killed nothing here tests failover: should the leadership move
	// on a starved machine, the calls follow it.
	c.followerNamesLeader(60*time.Second, "a schema", func(f *node) error {
		_, err := c.schemaClient(f).CreateSchema(ctx, connect.NewRequest(&v1.CreateSchemaRequest{Name: "order", Definition: orderSchema}))
		return err
	})
	c.onLeader(60*time.Second, "schema order created", func(l *node) bool {
		_, err := c.schemaClient(l).CreateSchema(ctx, connect.NewRequest(&v1.CreateSchemaRequest{Name: "order", Definition: orderSchema}))
		if err != nil && connect.CodeOf(err) != connect.CodeAlreadyExists {
			t.Logf("create a schema on the leader %s: %v", l.id, err)
			return false
		}
		return true
	})
	c.onLeader(60*time.Second, "schema order attached", func(l *node) bool {
		_, err := c.schemaClient(l).AttachSchema(ctx, connect.NewRequest(&v1.AttachSchemaRequest{Station: ordersStation, Schema: "order"}))
		if err != nil {
			t.Logf("attach the schema on the leader %s: %v", l.id, err)
		}
		return err == nil
	})
	// Enough entries that the leader snapshots and trims its log past
	// the schema's: the follower that was down installs a snapshot.
	for i := range 80 {
		v := fmt.Sprintf(`{"id":%d}`, i)
		c.onLeader(60*time.Second, "produce order "+v, func(l *node) bool {
			err := c.produceOrder(l, v)
			if err != nil {
				t.Logf("produce order %s on %s: %v", v, l.id, err)
			}
			return err == nil
		})
	}
	c.await(60*time.Second, "the leader to take a snapshot", func() bool {
		l := c.leaderNow()
		if l == nil {
			return false
		}
		snaps, _ := filepath.Glob(filepath.Join(l.data, "raft", "snapshots", "*", "meta.json"))
		return len(snaps) > 0
	})
	c.start(down)
	for _, n := range c.nodes {
		c.await(60*time.Second, n.id+" to hold the schema and its attachment", func() bool {
			name, err := c.stationSchema(n)
			if err != nil || name != "order" {
				return false
			}
			resp, err := c.schemaClient(n).GetSchema(ctx, connect.NewRequest(&v1.GetSchemaRequest{Name: "order"}))
			return err == nil && len(resp.Msg.Schema.GetVersions()) == 1
		})
	}
	if b, _ := os.ReadFile(down.logPath); !bytes.Contains(b, []byte("installed a snapshot from the leader")) {
		t.Errorf("%s caught up from the log, not from a snapshot: the scenario did not test what it means to", down.id)
	}

	leader := c.leader()
	c.kill(leader)
	t.Logf("killed leader %s", leader.id)
	c.awaitLeaderOtherThan(leader)
	// From here any leader is a new one: the calls follow whichever leads.
	c.onLeader(30*time.Second, "the new leader to take a conforming produce", func(l *node) bool {
		return c.produceOrder(l, `{"id":1000}`) == nil
	})
	c.onLeader(30*time.Second, "the new leader to refuse a non-conforming produce", func(l *node) bool {
		return wantCode(t, "non-conforming produce on the new leader "+l.id, c.produceOrder(l, `{"id":"not a number"}`), connect.CodeInvalidArgument)
	})

	// A schema deleted on the new leader is gone everywhere, once
	// detached.
	c.onLeader(30*time.Second, "the new leader to refuse deleting an attached schema", func(l *node) bool {
		_, err := c.schemaClient(l).DeleteSchema(ctx, connect.NewRequest(&v1.DeleteSchemaRequest{Name: "order"}))
		return wantCode(t, "delete an attached schema on "+l.id, err, connect.CodeFailedPrecondition)
	})
	c.onLeader(30*time.Second, "the schema detached", func(l *node) bool {
		_, err := c.schemaClient(l).DetachSchema(ctx, connect.NewRequest(&v1.DetachSchemaRequest{Station: ordersStation}))
		return wantCode(t, "detach on "+l.id, err, noError)
	})
	// A retry after an unknown outcome finds the schema gone already.
	c.onLeader(30*time.Second, "the detached schema deleted", func(l *node) bool {
		_, err := c.schemaClient(l).DeleteSchema(ctx, connect.NewRequest(&v1.DeleteSchemaRequest{Name: "order"}))
		if connect.CodeOf(err) == connect.CodeNotFound {
			return true
		}
		return wantCode(t, "delete the detached schema on "+l.id, err, noError)
	})
	for _, n := range c.alive() {
		c.await(30*time.Second, n.id+" to drop the schema", func() bool {
			name, err := c.stationSchema(n)
			_, gerr := c.schemaClient(n).GetSchema(ctx, connect.NewRequest(&v1.GetSchemaRequest{Name: "order"}))
			return err == nil && name == "" && connect.CodeOf(gerr) == connect.CodeNotFound
		})
	}
}

// withToken returns an HTTP client sending token as its bearer.
func withToken(token string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: bearer{token: token, next: http.DefaultTransport}}
}

// statusWith asks n for the cluster status through hc.
func statusWith(hc *http.Client, n *node) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := junctionv1connect.NewClusterServiceClient(hc, "http://"+n.api).Status(ctx, connect.NewRequest(&v1.ClusterStatusRequest{}))
	return err
}

// TestUsersAndTokensReplicate creates the first admin user on the
// leader: every node then refuses unauthenticated loopback callers; a
// token the leader issued works against a follower, and once revoked is
// refused by every node. Neither the password nor a token's secret is in
// any node's files.
func TestUsersAndTokensReplicate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3)
	if err := statusWith(c.hc, c.follower()); err != nil {
		t.Fatalf("a follower without users refuses a loopback caller: %v", err)
	}

	const password = "cluster-meta-test-password"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Nothing here tests failover: should the leadership move on a
	// starved machine, the calls follow it, and a follower is any node
	// that does not lead at the time it is asked.
	c.followerNamesLeader(30*time.Second, "the first user", func(f *node) error {
		_, err := junctionv1connect.NewUserServiceClient(c.hc, "http://"+f.api).CreateUser(ctx,
			connect.NewRequest(&v1.CreateUserRequest{User: &v1.User{Name: "admin", Role: "admin"}, Password: password}))
		return err
	})
	createAdmin(t, c.leader(), password)
	for _, n := range c.nodes {
		c.await(30*time.Second, n.id+" to require authentication", func() bool {
			return connect.CodeOf(statusWith(c.hc, n)) == connect.CodeUnauthenticated
		})
	}

	loginToken := c.loginOnLeader(password)
	admin := withToken(loginToken)
	// ac asks who leads with the admin's token.
	ac := &cluster{t: t, nodes: c.nodes, hc: admin}
	var created *connect.Response[v1.CreateTokenResponse]
	ac.onLeader(60*time.Second, "a token created on the leader", func(l *node) bool {
		var err error
		created, err = junctionv1connect.NewTokenServiceClient(admin, "http://"+l.api).CreateToken(ctx, connect.NewRequest(&v1.CreateTokenRequest{Description: "ci"}))
		if err != nil {
			t.Logf("create a token on the leader %s: %v", l.id, err)
		}
		return err == nil
	})
	tok := withToken(created.Msg.Token)
	for _, n := range c.nodes {
		c.await(30*time.Second, n.id+" to take the leader's tokens", func() bool {
			return statusWith(admin, n) == nil && statusWith(tok, n) == nil
		})
	}
	// A follower checks passwords against its replica, but issuing a
	// token is a write: it names the leader.
	ac.followerNamesLeader(30*time.Second, "a login", func(f *node) error {
		_, err := junctionv1connect.NewAuthServiceClient(c.hc, "http://"+f.api).Login(ctx, connect.NewRequest(&v1.LoginRequest{User: "admin", Password: password}))
		return err
	})

	// A retry after an unknown outcome finds the token gone already.
	ac.onLeader(60*time.Second, "the token revoked", func(l *node) bool {
		_, err := junctionv1connect.NewTokenServiceClient(admin, "http://"+l.api).RevokeToken(ctx, connect.NewRequest(&v1.RevokeTokenRequest{Id: created.Msg.Info.GetId()}))
		if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
			t.Logf("revoke the token on the leader %s: %v", l.id, err)
			return false
		}
		return true
	})
	for _, n := range c.nodes {
		c.await(30*time.Second, n.id+" to refuse the revoked token", func() bool {
			return connect.CodeOf(statusWith(tok, n)) == connect.CodeUnauthenticated
		})
		if err := statusWith(admin, n); err != nil {
			t.Errorf("%s refuses the admin's login token after another was revoked: %v", n.id, err)
		}
	}

	// A follower restarted after the revocation replays its raft log:
	// the revoked token must not come back, not even for a moment.
	follower := ac.follower()
	c.kill(follower)
	accepted := make(chan error, 1)
	stopProbe := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			select {
			case <-stopProbe:
				return
			default:
			}
			if statusWith(tok, follower) == nil {
				accepted <- errors.New("accepted the revoked token")
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	c.start(follower)
	c.await(60*time.Second, follower.id+" to apply everything the leader committed", func() bool {
		l := ac.leaderNow()
		if l == nil || l == follower {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		ls, err := junctionv1connect.NewClusterServiceClient(admin, "http://"+l.api).Status(ctx, connect.NewRequest(&v1.ClusterStatusRequest{}))
		if err != nil {
			return false
		}
		fs, err := junctionv1connect.NewClusterServiceClient(admin, "http://"+follower.api).Status(ctx, connect.NewRequest(&v1.ClusterStatusRequest{}))
		return err == nil && fs.Msg.AppliedIndex >= ls.Msg.CommitIndex
	})
	close(stopProbe)
	if err := <-accepted; err != nil {
		t.Errorf("%s, restarted after a revocation: %v", follower.id, err)
	}

	secrets := [][]byte{[]byte(password), []byte(loginToken), []byte(created.Msg.Token)}
	err := filepath.WalkDir(c.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(b, s) {
				t.Errorf("%s holds a secret in plain text", path)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}
