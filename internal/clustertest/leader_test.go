package clustertest

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// Tests that do not test failover still meet it: on a busy machine a
// node starved of CPU for a second may miss heartbeats and the leader
// change. These helpers call whichever node leads at the time, until the
// call succeeds or a deadline passes.

// onLeader calls call on the current leader until it returns true,
// failing the test after d.
func (c *cluster) onLeader(d time.Duration, what string, call func(l *node) bool) {
	c.t.Helper()
	c.await(d, what, func() bool {
		l := c.leaderNow()
		return l != nil && call(l)
	})
}

// produceOnLeader stores one message with value v on station, with v as
// its id so that a retry after an unknown outcome stores it once.
func (c *cluster) produceOnLeader(station, v string) {
	c.t.Helper()
	c.onLeader(60*time.Second, "produce "+v, func(l *node) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		mc := junctionv1connect.NewMessageServiceClient(c.hc, "http://"+l.api)
		_, err := mc.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: station,
			Messages: []*v1.Message{{Value: []byte(v), Id: v}}}))
		if err != nil {
			c.t.Logf("produce %s on %s: %v", v, l.id, err)
		}
		return err == nil
	})
}

// transferTo makes n the leader, asking whichever node leads to hand
// leadership over until n leads.
func (c *cluster) transferTo(n *node) {
	c.t.Helper()
	c.await(60*time.Second, n.id+" to lead", func() bool {
		l := c.leaderNow()
		if l == n {
			return true
		}
		if l != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := c.clusterClient(l).TransferLeader(ctx, connect.NewRequest(&v1.TransferLeaderRequest{NodeId: n.id})); err != nil {
				c.t.Logf("transfer the leadership from %s to %s: %v", l.id, n.id, err)
			}
		}
		return false
	})
}

// followerNamesLeader calls call on a follower until it answers
// NOT_LEADER naming the node that leads at the time, failing the test
// after d.
func (c *cluster) followerNamesLeader(d time.Duration, what string, call func(f *node) error) {
	c.t.Helper()
	c.await(d, "a follower to refuse "+what+", naming the leader", func() bool {
		l := c.leaderNow()
		if l == nil {
			return false
		}
		for _, f := range c.alive() {
			if f == l {
				continue
			}
			err := call(f)
			if connect.CodeOf(err) == connect.CodeUnavailable && leaderOf(err) == l.api {
				return true
			}
			c.t.Logf("%s on follower %s: %v, want NOT_LEADER naming %s", what, f.id, err, l.api)
			return false
		}
		return false
	})
}

// loginOnLeader logs in as admin and returns the token. A caller without
// one cannot ask who leads, so the login goes to every live node in turn
// until the one leading at the time issues it.
func (c *cluster) loginOnLeader(password string) string {
	c.t.Helper()
	var token string
	c.await(60*time.Second, "a login on the leader", func() bool {
		for _, n := range c.alive() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			resp, err := junctionv1connect.NewAuthServiceClient(c.hc, "http://"+n.api).Login(ctx, connect.NewRequest(&v1.LoginRequest{User: "admin", Password: password}))
			cancel()
			if err == nil {
				token = resp.Msg.Token
				return true
			}
			if leaderOf(err) == "" {
				c.t.Logf("login on %s: %v", n.id, err)
			}
		}
		return false
	})
	return token
}

// noError is the code wantCode takes for a call that must succeed.
const noError connect.Code = 0

// wantCode reports whether err has code want (noError for none)
// for an onLeader call: UNAVAILABLE, a leader change, is false (ask the
// next leader); any other code fails the test.
func wantCode(t *testing.T, what string, err error, want connect.Code) bool {
	t.Helper()
	got := connect.CodeOf(err)
	if err == nil {
		got = noError
	}
	switch got {
	case want:
		return true
	case connect.CodeUnavailable:
		t.Logf("%s: %v; asking the next leader", what, err)
		return false
	}
	if want == noError {
		t.Fatalf("%s: %v, want success", what, err)
	}
	t.Fatalf("%s: %v, want %v", what, err, want)
	return false
}
