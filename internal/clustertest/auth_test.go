package clustertest

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// bearer adds a token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// TestAuthenticatedClusterJoin turns authentication on on the first node
// before the others join: they join through its cluster port, where
// their certificates authenticate them, while a node asking through the
// API without credentials is refused.
func TestAuthenticatedClusterJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	ca := newTestCA(t, "cluster")
	c := prepareCluster(t, 3)
	for _, n := range c.nodes {
		n.args = append(n.args, ca.tlsFlags(t, n.id)...)
	}
	c.joinClusterPort = true
	first := c.nodes[0]
	c.start(first)
	c.leader()

	const password = "cluster-test-password"
	createAdmin(t, first, password)
	if _, err := c.status(first); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("status without credentials once a user exists: %v, want UNAUTHENTICATED", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := junctionv1connect.NewAuthServiceClient(c.hc, "http://"+first.api).Login(ctx, connect.NewRequest(&v1.LoginRequest{User: "admin", Password: password}))
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	c.hc = &http.Client{Timeout: c.hc.Timeout, Transport: bearer{token: resp.Msg.Token, next: http.DefaultTransport}}

	for _, n := range c.nodes[1:] {
		c.start(n)
	}
	c.await(60*time.Second, "the others to join", func() bool {
		st, err := c.status(first)
		if err != nil || len(st.Nodes) != 3 {
			return false
		}
		for _, m := range st.Nodes {
			if !m.Voter {
				return false
			}
		}
		return true
	})

	// A node without a cluster certificate asks through the API, without
	// credentials: refused.
	ports := freePorts(t, 2)
	outsider := c.newNode(9, ports[0], ports[1])
	c.joinClusterPort = false
	c.start(outsider)
	t.Cleanup(func() { c.kill(outsider) })
	c.await(30*time.Second, "the outsider to be refused", func() bool {
		b, _ := os.ReadFile(outsider.logPath)
		return bytes.Contains(b, []byte("join the cluster")) && bytes.Contains(b, []byte("unauthenticated"))
	})
	st, err := c.status(first)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 3 {
		t.Errorf("members after the outsider asked: %v", st.Nodes)
	}
}

// createAdmin creates the user admin, role admin, with password through
// the CLI against n: the first user turns authentication on.
func createAdmin(t *testing.T, n *node, password string) {
	t.Helper()
	cmd := exec.Command(junctionBin, "--server", n.api, "user", "create", "admin", "--role", "admin", "--password-stdin")
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
}
