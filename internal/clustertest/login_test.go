package clustertest

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"gopkg.in/yaml.v3"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// TestLoginThroughFollower logs in with the CLI through a follower, alone
// and first in a --server list: the login follows the leader, which
// mints the token, and the token authenticates on every node at once.
func TestLoginThroughFollower(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3)
	c.waitMembers(3)
	l := c.leader()
	f := c.follower()
	const password = "cluster-login-password"
	junction := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(junctionBin, args...)
		cmd.Env = append(cmd.Environ(), "JUNCTION_CONFIG="+filepath.Join(c.dir, "cli.yaml"))
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := junction(password+"\n", "--server", l.api, "user", "create", "admin", "--role", "admin", "--password-stdin"); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
	c.await(30*time.Second, "the followers to refuse callers without a token", func() bool {
		for _, n := range c.nodes {
			if _, err := c.status(n); connect.CodeOf(err) != connect.CodeUnauthenticated {
				return false
			}
		}
		return true
	})

	var others []string
	for _, n := range c.nodes {
		if n != f {
			others = append(others, n.api)
		}
	}
	for _, server := range []string{f.api, f.api + "," + strings.Join(others, ",")} {
		out, err := junction(password+"\n", "--server", server, "login", "--user", "admin", "--password-stdin", "--name", "c")
		if err != nil {
			t.Fatalf("login --server %s: %v\n%s", server, err, out)
		}
		token, saved := savedContext(t, filepath.Join(c.dir, "cli.yaml"), "c")
		if saved != server {
			t.Errorf("login --server %s saved the context's server as %q", server, saved)
		}
		hc := &http.Client{Timeout: 5 * time.Second, Transport: bearer{token: token, next: http.DefaultTransport}}
		// At once, on every node: a follower that has not applied the
		// token yet syncs with the leader before it answers.
		for _, n := range c.nodes {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err := junctionv1connect.NewAuthServiceClient(hc, "http://"+n.api).WhoAmI(ctx, connect.NewRequest(&v1.WhoAmIRequest{}))
			cancel()
			if err != nil || resp.Msg.User != "admin" {
				t.Fatalf("the new token on %s right after the login: %v", n.id, err)
			}
		}
		// The saved context reaches the cluster through any of its nodes.
		if out, err := junction("", "--context", "c", "station", "list"); err != nil {
			t.Fatalf("station list with the saved context: %v\n%s", err, out)
		}
	}
}

// savedContext reads a context's token and server from a CLI config file.
func savedContext(t *testing.T, path, name string) (token, server string) {
	t.Helper()
	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Contexts []struct {
			Name   string `yaml:"name"`
			Token  string `yaml:"token"`
			Server string `yaml:"server"`
		} `yaml:"contexts"`
	}
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, cx := range cfg.Contexts {
		if cx.Name == name && cx.Token != "" {
			return cx.Token, cx.Server
		}
	}
	t.Fatalf("no context %q with a token in %s:\n%s", name, path, out)
	return "", ""
}
