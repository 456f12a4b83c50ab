package clustertest

import (
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
)

// TestFreshNodeClosedUntilCaughtUp wipes a follower of a cluster whose
// authentication is on and starts it again empty while the other nodes
// are paused: with no users of its own it must not be open to loopback
// callers, but answer UNAVAILABLE "catching up", until it has the
// cluster's users; then it asks for a token, and takes the cluster's.
func TestFreshNodeClosedUntilCaughtUp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3)
	c.waitMembers(3)
	const password = "cluster-catchup-password"
	createAdmin(t, c.leader(), password)
	withToken := &http.Client{Timeout: c.hc.Timeout, Transport: bearer{token: c.loginOnLeader(password), next: http.DefaultTransport}}
	f := (&cluster{t: t, nodes: c.nodes, hc: withToken}).follower()
	c.await(30*time.Second, "every node to require a token", func() bool {
		for _, n := range c.nodes {
			if _, err := c.status(n); connect.CodeOf(err) != connect.CodeUnauthenticated {
				return false
			}
		}
		return true
	})

	c.kill(f)
	if err := os.RemoveAll(f.data); err != nil {
		t.Fatal(err)
	}
	var paused []*node
	for _, n := range c.alive() {
		c.signal(n, syscall.SIGSTOP)
		paused = append(paused, n)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			for _, n := range paused {
				c.signal(n, syscall.SIGCONT)
			}
		}
	}
	t.Cleanup(resume)
	c.start(f)
	for range 3 {
		_, err := c.status(f)
		if !catchingUp(err) {
			t.Fatalf("an empty node that has not caught up, to a loopback caller without a token: %v; want UNAVAILABLE, catching up", err)
		}
		if _, err := (&cluster{hc: withToken}).status(f); connect.CodeOf(err) != connect.CodeUnavailable {
			t.Fatalf("an empty node that has not caught up, to a caller with a token it does not know yet: %v; want UNAVAILABLE", err)
		}
	}

	resume()
	c.await(60*time.Second, f.id+" to catch up and take the cluster's token", func() bool {
		_, err := (&cluster{hc: withToken}).status(f)
		return err == nil
	})
	if _, err := c.status(f); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("a caught-up node to a caller without a token: %v; want UNAUTHENTICATED", err)
	}
}
