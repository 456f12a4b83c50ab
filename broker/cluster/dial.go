package cluster

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/raft"
)

// maxDialOverrides bounds how many overrides ParseDialOverrides takes.
const maxDialOverrides = 64

// ParseDialOverrides parses "ID=HOST:PORT[,ID=HOST:PORT...]": the
// addresses a node dials members' cluster ports at, in place of those
// they registered (see Config.DialOverrides).
func ParseDialOverrides(s string) (map[string]string, error) {
	out := make(map[string]string)
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	if strings.Count(s, ",") >= maxDialOverrides {
		return nil, fmt.Errorf("cluster: over %d dial overrides", maxDialOverrides)
	}
	for i, item := range strings.Split(s, ",") {
		id, addr, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || id == "" || len(id) > 128 {
			return nil, fmt.Errorf("cluster: dial override %d (%q): want ID=HOST:PORT", i+1, item)
		}
		if !hostPort(addr) {
			return nil, fmt.Errorf("cluster: dial override for %q: %q is not host:port", id, addr)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("cluster: dial override for %q given twice", id)
		}
		out[id] = addr
	}
	return out, nil
}

// addressProvider points raft's dials at the overridden addresses, and
// at the registered raft address of a member without one.
type addressProvider struct{ n *Node }

var errUnknownMember = errors.New("no address registered")

func (p addressProvider) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	if a := p.n.cfg.DialOverrides[string(id)]; a != "" {
		return raft.ServerAddress(a), nil
	}
	if info, ok := p.n.node(string(id)); ok && info.Raft != "" {
		return raft.ServerAddress(info.Raft), nil
	}
	return "", fmt.Errorf("member %q: %w", id, errUnknownMember)
}

// leaderDialAddr is the address this node dials the leader's cluster
// port at, or "" when no leader is known.
func (n *Node) leaderDialAddr() string {
	addr, id := n.raft.LeaderWithID()
	if id == "" {
		return ""
	}
	if a := n.cfg.DialOverrides[string(id)]; a != "" {
		return a
	}
	return string(addr)
}
