package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/sdk/client"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serial int64

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns PEM certificate and key for cn: a server certificate for
// 127.0.0.1, or a client one.
func (ca *testCA) issue(t *testing.T, cn string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// tlsServer starts a broker serving TLS with a certificate of ca, verifying
// client certificates against clientCA.
func tlsServer(t *testing.T, ca, clientCA *testCA) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	cert, key := ca.issue(t, "broker", true)
	sec := SecurityOptions{TLSCert: writeFile(t, filepath.Join(dir, "cert.pem"), cert), TLSKey: writeFile(t, filepath.Join(dir, "key.pem"), key)}
	if clientCA != nil {
		sec.TLSClientCA = writeFile(t, filepath.Join(dir, "clientca.pem"), clientCA.pem)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), Options{DataDir: filepath.Join(dir, "data"), Logger: slog.New(slog.DiscardHandler), PluginDirs: []string{}, Security: sec}, ln)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

func tlsClient(t *testing.T, s *Server, tc *tls.Config, opts ...client.Option) (*client.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, "https://"+s.Addr(), append(opts, client.WithTLSConfig(tc))...)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func TestTLSGRPCAndConnect(t *testing.T) {
	ca := newTestCA(t, "test CA")
	s, _ := tlsServer(t, ca, nil)
	c, err := tlsClient(t, s, &tls.Config{RootCAs: ca.pool()})
	if err != nil {
		t.Fatalf("gRPC client trusting the CA: %v", err)
	}
	if _, err := c.CreateStation(context.Background(), client.StationConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	// The Connect protocol (JSON over HTTP/1.1, as curl sends it).
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool()}}}
	resp, err := hc.Post("https://"+s.Addr()+"/junction.v1.StationService/ListStations", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"orders"`) {
		t.Fatalf("Connect JSON over TLS: %s %s", resp.Status, body)
	}
	// Plain HTTP to the TLS port is refused.
	if _, err := h2cClient().Get("http://" + s.Addr() + "/healthz"); err == nil {
		t.Fatal("plain HTTP to a TLS port answered")
	}
}

func TestTLSWrongCARefused(t *testing.T) {
	ca := newTestCA(t, "test CA")
	s, _ := tlsServer(t, ca, nil)
	other := newTestCA(t, "other CA")
	_, err := tlsClient(t, s, &tls.Config{RootCAs: other.pool()})
	var uerr x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &uerr) {
		t.Fatalf("client trusting another CA: %v, want an unknown authority error", err)
	}
}

func TestMutualTLSMapsCertificateToUser(t *testing.T) {
	ca := newTestCA(t, "test CA")
	clients := newTestCA(t, "client CA")
	s, dir := tlsServer(t, ca, clients)
	ctx := context.Background()
	// Open broker: create the first user over TLS from loopback.
	c, err := tlsClient(t, s, &tls.Config{RootCAs: ca.pool()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.CreateUser(ctx, client.User{Name: "alice", Role: "admin"}, adminPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stations(ctx); !errors.Is(err, client.ErrUnauthenticated) {
		t.Fatalf("no certificate, no token: %v", err)
	}
	certPEM, keyPEM := clients.issue(t, "alice", false)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := tlsClient(t, s, &tls.Config{RootCAs: ca.pool(), Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := mc.WhoAmI(ctx)
	if err != nil || id.User != "alice" {
		t.Fatalf("whoami with alice's certificate: %+v %v", id, err)
	}
	// A certificate of a CA the server does not trust does not make its
	// holder alice: it is refused in the handshake or not sent at all.
	rogue := newTestCA(t, "rogue CA")
	rp, rk := rogue.issue(t, "alice", false)
	rcert, _ := tls.X509KeyPair(rp, rk)
	rc, err := tlsClient(t, s, &tls.Config{RootCAs: ca.pool(), GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &rcert, nil }})
	if err == nil {
		_, err = rc.WhoAmI(ctx)
	}
	if err == nil {
		t.Fatal("a certificate from an untrusted CA authenticated")
	}
	_ = dir
}

func TestTLSReloadKeepsConnections(t *testing.T) {
	ca := newTestCA(t, "test CA")
	s, dir := tlsServer(t, ca, nil)
	c, err := tlsClient(t, s, &tls.Config{RootCAs: ca.pool()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.CreateStation(ctx, client.StationConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	p := c.NewProducer("orders", client.ProducerOptions{})
	defer p.Close(ctx)
	if _, err := p.Send(ctx, client.Message{Value: []byte("before")}).Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// Rotate to a certificate from a new CA and reload.
	ca2 := newTestCA(t, "next CA")
	cert, key := ca2.issue(t, "broker", true)
	writeFile(t, filepath.Join(dir, "cert.pem"), cert)
	writeFile(t, filepath.Join(dir, "key.pem"), key)
	if err := s.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	// The open producer stream keeps working.
	if _, err := p.Send(ctx, client.Message{Value: []byte("after")}).Wait(ctx); err != nil {
		t.Fatalf("produce on a connection opened before the reload: %v", err)
	}
	// New connections get the new certificate.
	if _, err := tlsClient(t, s, &tls.Config{RootCAs: ca2.pool()}); err != nil {
		t.Fatalf("new connection trusting the new CA: %v", err)
	}
	if _, err := tlsClient(t, s, &tls.Config{RootCAs: ca.pool()}); err == nil {
		t.Fatal("new connection still got the old certificate")
	}
	// A bad file keeps the current certificate.
	writeFile(t, filepath.Join(dir, "cert.pem"), []byte("garbage"))
	if err := s.ReloadTLS(); err == nil {
		t.Fatal("reload of a garbage certificate succeeded")
	}
	if _, err := tlsClient(t, s, &tls.Config{RootCAs: ca2.pool()}); err != nil {
		t.Fatalf("after a failed reload: %v", err)
	}
}
