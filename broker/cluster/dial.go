package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// DialOverride is where a node dials another member in place of the
// addresses that member registered: its raft transport and its API (the
// path records are fetched from the leader on).
type DialOverride struct {
	Raft, API string
}

// maxDialOverrides bounds how many overrides ParseDialOverrides takes.
const maxDialOverrides = 64

// ParseDialOverrides parses "ID=RAFT/API[,ID=RAFT/API...]", each address
// host:port; either address may be empty to keep the registered one.
func ParseDialOverrides(s string) (map[string]DialOverride, error) {
	out := make(map[string]DialOverride)
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	if strings.Count(s, ",") >= maxDialOverrides {
		return nil, fmt.Errorf("cluster: over %d dial overrides", maxDialOverrides)
	}
	for i, item := range strings.Split(s, ",") {
		id, addrs, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || id == "" || len(id) > 128 {
			return nil, fmt.Errorf("cluster: dial override %d (%q): want ID=RAFT/API", i+1, item)
		}
		rf, ap, ok := strings.Cut(addrs, "/")
		if !ok {
			return nil, fmt.Errorf("cluster: dial override for %q: want RAFT/API, got %q", id, addrs)
		}
		for _, a := range []string{rf, ap} {
			if a != "" && !hostPort(a) {
				return nil, fmt.Errorf("cluster: dial override for %q: %q is not host:port", id, a)
			}
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("cluster: dial override for %q given twice", id)
		}
		out[id] = DialOverride{Raft: rf, API: ap}
	}
	return out, nil
}

// addressProvider points raft's dials at the overridden addresses, and
// at the registered raft address of a member without one.
type addressProvider struct{ n *Node }

var errUnknownMember = errors.New("no address registered")

func (p addressProvider) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	if o, ok := p.n.cfg.DialOverrides[string(id)]; ok && o.Raft != "" {
		return raft.ServerAddress(o.Raft), nil
	}
	if info, ok := p.n.node(string(id)); ok && info.Raft != "" {
		return raft.ServerAddress(info.Raft), nil
	}
	return "", fmt.Errorf("member %q: %w", id, errUnknownMember)
}

// apiDialAddr is the address this node dials member id's API at: its
// override, or the API address it registered.
func (n *Node) apiDialAddr(id string) string {
	if o, ok := n.cfg.DialOverrides[id]; ok && o.API != "" {
		return o.API
	}
	info, _ := n.node(id)
	return info.API
}

// leaderDialAddr is the address this node dials the leader's API at, or
// "" when no leader is known.
func (n *Node) leaderDialAddr() string {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return ""
	}
	return n.apiDialAddr(string(id))
}

// streamLayer carries raft's connections: plain TCP, or TLS when tls is
// set (its config both serves and dials, so each side verifies the other).
type streamLayer struct {
	net.Listener
	advertise net.Addr
	tls       *tls.Config
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func newStreamLayer(listen string, advertise net.Addr, tc *tls.Config) (*streamLayer, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	return &streamLayer{Listener: ln, advertise: advertise, tls: tc}, nil
}

// Addr is the address raft tells the other nodes.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

// Dial opens a connection to a member; with TLS, it completes the
// handshake (so a peer that refuses this node's certificate fails here).
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	if s.tls == nil {
		return d.Dial("tcp", string(address))
	}
	td := &tls.Dialer{NetDialer: d, Config: s.tls}
	return td.Dial("tcp", string(address))
}
