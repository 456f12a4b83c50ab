package clustertest

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// linkMode is what a proxy does with the traffic of one directed link.
type linkMode int

const (
	pass      linkMode = iota // forward both ways
	drop                      // close connections: the dialler sees a reset at once
	blackhole                 // accept and hold connections, forward nothing: the dialler times out
)

func (m linkMode) String() string {
	return [...]string{"pass", "drop", "blackhole"}[m]
}

// proxy forwards the connections one node opens to one address of
// another (raft or API), unless told to drop or blackhole them.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	mode  linkMode
	conns map[*proxyConn]struct{}
	wg    sync.WaitGroup
}

// proxyConn is one proxied connection: the dialler's side and, unless it
// was accepted into a blackhole, the target's.
type proxyConn struct {
	down, up net.Conn
}

func (pc *proxyConn) close() {
	pc.down.Close()
	if pc.up != nil {
		pc.up.Close()
	}
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: make(map[*proxyConn]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		pc := &proxyConn{down: c}
		switch mode {
		case drop:
			c.Close()
			continue
		case pass:
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			pc.up = up
		}
		p.mu.Lock()
		if p.mode != mode { // changed meanwhile: let the dialler retry
			p.mu.Unlock()
			pc.close()
			continue
		}
		p.conns[pc] = struct{}{}
		p.mu.Unlock()
		if pc.up == nil {
			p.wg.Add(1)
			go p.hold(pc)
			continue
		}
		p.wg.Add(2)
		go p.pump(pc, pc.up, pc.down)
		go p.pump(pc, pc.down, pc.up)
	}
}

// hold reads and discards what a blackholed connection sends until it is
// closed.
func (p *proxy) hold(pc *proxyConn) {
	defer p.wg.Done()
	io.Copy(io.Discard, pc.down)
	p.forget(pc)
}

// pump copies src to dst while the link passes traffic, and discards it
// while the link is a blackhole.
func (p *proxy) pump(pc *proxyConn, dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			p.mu.Lock()
			mode := p.mode
			p.mu.Unlock()
			if mode == pass {
				if _, werr := dst.Write(buf[:k]); werr != nil {
					break
				}
			}
		}
		if err != nil {
			break
		}
	}
	pc.close()
	p.forget(pc)
}

func (p *proxy) forget(pc *proxyConn) {
	p.mu.Lock()
	delete(p.conns, pc)
	p.mu.Unlock()
}

// set changes the link's mode. Leaving a blackhole or entering drop
// closes every open connection: one that lost bytes in a blackhole must
// not carry traffic again, as its stream is no longer whole.
func (p *proxy) set(m linkMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mode == m {
		return
	}
	if m == drop || p.mode == blackhole {
		for pc := range p.conns {
			pc.close()
		}
	}
	p.mode = m
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for pc := range p.conns {
		pc.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// link is the directed link from one node to another's cluster port,
// which carries raft and the calls between nodes (joining, fetching
// records).
type link struct {
	from, to *node
	p        *proxy
}

// withProxies makes every node dial every other through a link of its
// own; call it before the nodes start.
func (c *cluster) withProxies() {
	c.links = make(map[[2]string]*link)
	for _, from := range c.nodes {
		var dial []string
		for _, to := range c.nodes {
			if from == to {
				continue
			}
			l := &link{from: from, to: to, p: newProxy(c.t, to.raft)}
			c.links[[2]string{from.id, to.id}] = l
			dial = append(dial, to.id+"="+l.p.addr())
		}
		from.args = append(from.args, "--cluster-test-dial", strings.Join(dial, ","))
	}
	c.t.Cleanup(func() {
		for _, l := range c.links {
			l.p.close()
		}
	})
}

// setLink sets the mode of the link from one node to another.
func (c *cluster) setLink(from, to *node, m linkMode) {
	c.t.Helper()
	l := c.links[[2]string{from.id, to.id}]
	if l == nil {
		c.t.Fatalf("no link from %s to %s (start the cluster with withProxies)", from.id, to.id)
	}
	l.p.set(m)
}

// isolate sets every link to and from n to m.
func (c *cluster) isolate(n *node, m linkMode) {
	c.t.Helper()
	for _, o := range c.nodes {
		if o != n {
			c.setLink(n, o, m)
			c.setLink(o, n, m)
		}
	}
}

// heal lets every link pass traffic again.
func (c *cluster) heal() {
	for _, l := range c.links {
		l.p.set(pass)
	}
}
