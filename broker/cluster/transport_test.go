package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// testCA issues certificates for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	ca := &testCA{dir: t.TempDir()}
	ca.cert, ca.key = ca.sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil)
	return ca
}

var testSerial int64

// sign makes a certificate of tmpl signed by ca (self-signed when ca has
// no certificate yet).
func (ca *testCA) sign(t *testing.T, tmpl *x509.Certificate, parent *testCA) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	testSerial++
	tmpl.SerialNumber = big.NewInt(testSerial)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// node issues a node certificate and returns its files, with the CA's.
func (ca *testCA) node(t *testing.T, name string) TLSFiles {
	t.Helper()
	cert, key := ca.sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: name}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}, ca)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, typ string, b []byte) string {
		p := filepath.Join(ca.dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return TLSFiles{
		Cert: write(name+".crt", "CERTIFICATE", cert.Raw),
		Key:  write(name+".key", "EC PRIVATE KEY", kb),
		CA:   write("ca.crt", "CERTIFICATE", ca.cert.Raw),
	}
}

func tlsLayer(t *testing.T, f TLSFiles) *streamLayer {
	t.Helper()
	tc, err := clusterTLS(f)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newStreamLayer("127.0.0.1:0", nil, tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestClusterPortMutualTLS: members of one CA reach each other's raft;
// a peer with another CA's certificate, or none, or no TLS, reaches
// nothing.
func TestClusterPortMutualTLS(t *testing.T) {
	ca := newTestCA(t, "cluster")
	a, b := tlsLayer(t, ca.node(t, "a")), tlsLayer(t, ca.node(t, "b"))
	addr := a.ln.Addr().String()

	c, err := b.Dial(raft.ServerAddress(addr), 5*time.Second)
	if err != nil {
		t.Fatalf("a member dials a member: %v", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{0, 'x'}); err != nil {
		t.Fatal(err)
	}
	got, err := a.Accept()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(got, buf); err != nil || buf[0] != 0 || buf[1] != 'x' {
		t.Fatalf("raft read %q, %v", buf, err)
	}
	got.Close()

	rogue := tlsLayer(t, newTestCA(t, "rogue").node(t, "rogue"))
	if c, err := rogue.Dial(raft.ServerAddress(addr), 5*time.Second); err == nil {
		c.Close()
		t.Error("a node of another CA completed a handshake with a member")
	}
	// A client that trusts anything, with a certificate of another CA,
	// or with none: the member refuses it before reading a byte.
	of := newTestCA(t, "other").node(t, "x")
	otherCert, err := tls.LoadX509KeyPair(of.Cert, of.Key)
	if err != nil {
		t.Fatal(err)
	}
	for name, certs := range map[string][]tls.Certificate{"another CA's certificate": {otherCert}, "no certificate": nil} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, Certificates: certs, MinVersion: tls.VersionTLS13})
		if err != nil {
			continue // refused during the handshake
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		conn.Write([]byte{0, 'x'})
		if _, err := conn.Read(buf); err == nil {
			t.Errorf("with %s: the member answered", name)
		}
		conn.Close()
	}
	plain, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	plain.SetDeadline(time.Now().Add(10 * time.Second))
	plain.Write([]byte("POST /junction.v1.ClusterService/AddNode HTTP/1.1\r\nHost: x\r\n\r\n"))
	if _, err := plain.Read(buf); err == nil && string(buf) == "HT" {
		t.Error("a plain HTTP request was answered on a TLS cluster port")
	}
	plain.Close()
}
