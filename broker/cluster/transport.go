package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The cluster port carries raft's RPCs and the calls nodes make to each
// other (joining, repair, fetching records: ClusterService's AddNode and
// ReadPartition, served by internalHandler). Raft's connections start
// with an RPC type byte below 0x20; the others are HTTP requests, which
// start with a method name. With TLS configured every connection is
// mutual TLS verified against the cluster CA, so a peer without a
// certificate of the cluster can neither take part in raft nor call.

// raftMaxType is the largest first byte of a raft connection.
const raftMaxType = 0x1f

// handshakeTimeout bounds a connection's TLS handshake and first byte.
const handshakeTimeout = 10 * time.Second

// TLSFiles names the PEM files of a node's cluster certificate, its key
// and the cluster CA its peers' certificates must chain to.
type TLSFiles struct {
	Cert, Key, CA string
}

// Enabled reports whether any file is set.
func (f TLSFiles) Enabled() bool { return f.Cert != "" || f.Key != "" || f.CA != "" }

// clusterTLS builds the TLS configuration of the cluster port: it presents
// the node's certificate, both serving and dialling, and accepts only
// peers whose certificate chains to the cluster CA. Peers are members,
// not host names, so the peer's name is not checked: the CA is the
// cluster's boundary.
func clusterTLS(f TLSFiles) (*tls.Config, error) {
	if f.Cert == "" || f.Key == "" || f.CA == "" {
		return nil, errors.New("cluster: TLS needs a certificate, its key and the cluster CA")
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("cluster: load certificate %s and key %s: %w", f.Cert, f.Key, err)
	}
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("cluster: read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("cluster: %s holds no PEM certificate", f.CA)
	}
	verify := func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("cluster: the peer sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			return fmt.Errorf("cluster: peer certificate: %w", err)
		}
		return nil
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAnyClientCert,
		// Verified by VerifyConnection against the cluster CA alone,
		// for servers and clients alike.
		InsecureSkipVerify: true,
		VerifyConnection:   verify,
	}, nil
}

// streamLayer is the cluster port: raft's StreamLayer, plus a listener of
// the HTTP connections for internalHandler.
type streamLayer struct {
	ln        net.Listener
	advertise net.Addr
	tls       *tls.Config
	raftCh    chan net.Conn
	http      *connListener
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func newStreamLayer(listen string, advertise net.Addr, tc *tls.Config) (*streamLayer, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	s := &streamLayer{ln: ln, advertise: advertise, tls: tc, raftCh: make(chan net.Conn), done: make(chan struct{})}
	s.http = &connListener{ch: make(chan net.Conn), done: s.done, closed: make(chan struct{}), addr: ln.Addr()}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *streamLayer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go s.route(c)
	}
}

// route completes c's handshake and hands it to raft or to the HTTP
// listener by its first byte. It ends within handshakeTimeout, or when
// the layer closes.
func (s *streamLayer) route(c net.Conn) {
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	if s.tls != nil {
		tc := tls.Server(c, s.tls)
		if err := tc.Handshake(); err != nil {
			c.Close()
			return
		}
		c = tc
	}
	var first [1]byte
	if _, err := io.ReadFull(c, first[:]); err != nil {
		c.Close()
		return
	}
	c.SetDeadline(time.Time{})
	pc := &prefixConn{Conn: c, first: first[0]}
	ch := s.http.ch
	if first[0] <= raftMaxType {
		ch = s.raftCh
	}
	select {
	case ch <- pc:
	case <-s.done:
		c.Close()
	case <-s.http.closed:
		c.Close()
	}
}

// Accept returns the next raft connection.
func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.raftCh:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

// Close stops listening; connections already handed out stay open.
func (s *streamLayer) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		err = s.ln.Close()
		s.wg.Wait()
	})
	return err
}

// Addr is the address raft tells the other nodes.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

// Dial opens a connection to a member's cluster port; with TLS, it
// completes the handshake, verifying the member's certificate (a member
// that refuses this node's closes the connection at its first read).
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.dial(ctx, string(address))
}

func (s *streamLayer) dial(ctx context.Context, address string) (net.Conn, error) {
	d := &net.Dialer{}
	if s.tls == nil {
		return d.DialContext(ctx, "tcp", address)
	}
	td := &tls.Dialer{NetDialer: d, Config: s.tls}
	return td.DialContext(ctx, "tcp", address)
}

// httpClient calls other members' cluster ports: HTTP/1.1 over
// connections this layer dials (mutual TLS when configured). Use it with
// "http://" URLs of cluster addresses.
func (s *streamLayer) httpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return s.dial(ctx, addr)
		},
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     time.Minute,
	}}
}

// prefixConn is a connection whose first byte was read to route it; its
// first Read returns that byte.
type prefixConn struct {
	net.Conn
	first byte
	done  bool
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if c.done || len(p) == 0 {
		return c.Conn.Read(p)
	}
	c.done = true
	p[0] = c.first
	return 1, nil
}

// connListener hands out the connections route sends it, until it or
// the stream layer closes.
type connListener struct {
	ch        chan net.Conn
	done      chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
	addr      net.Addr
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }
