package clustertest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA issues node certificates for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
}

var testSerial int64

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	ca := &testCA{dir: t.TempDir()}
	ca.cert, ca.key = ca.sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, false)
	return ca
}

func (ca *testCA) sign(t *testing.T, tmpl *x509.Certificate, byCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	testSerial++
	tmpl.SerialNumber = big.NewInt(testSerial)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	parent, parentKey := tmpl, key
	if byCA {
		parent, parentKey = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// tlsFlags issues a certificate for node id and returns the server flags
// that make its cluster port mutual TLS under ca.
func (ca *testCA) tlsFlags(t *testing.T, id string) []string {
	t.Helper()
	cert, key := ca.sign(t, &x509.Certificate{Subject: pkix.Name{CommonName: id}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}, true)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(ca.dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return []string{
		"--cluster-tls-cert", write(id+".crt", "CERTIFICATE", cert.Raw),
		"--cluster-tls-key", write(id+".key", "EC PRIVATE KEY", kb),
		"--cluster-tls-ca", write("ca.crt", "CERTIFICATE", ca.cert.Raw),
	}
}

// newTLSCluster starts size nodes whose cluster ports are mutual TLS
// under ca, joining through the first node's cluster port.
func newTLSCluster(t *testing.T, ca *testCA, size int, extra ...string) *cluster {
	t.Helper()
	c := prepareCluster(t, size, extra...)
	for _, n := range c.nodes {
		n.args = append(n.args, ca.tlsFlags(t, n.id)...)
	}
	c.joinClusterPort = true
	c.startAll()
	return c
}

// TestClusterMutualTLS runs raft, joins and record fetches over mutual
// TLS: a follower killed under producers until the others compact their
// raft logs past it, so that it catches up from a snapshot, fetching
// records from the leader; the history is checked. A node whose
// certificate another CA signed cannot join.
func TestClusterMutualTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	ca := newTestCA(t, "cluster")
	c := newTLSCluster(t, ca, 3, "--cluster-snapshot-threshold", "50", "--cluster-trailing-logs", "10", "--cluster-snapshot-interval", "200ms")
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, producers, withIDs)
	w.awaitAcked(100)
	f := c.follower()
	c.kill(f)
	t.Logf("killed follower %s", f.id)
	w.awaitAcked(300)
	c.start(f)
	w.awaitAcked(100)
	check(t, c, station, partitions, w.halt())
	if b, _ := os.ReadFile(f.logPath); !bytes.Contains(b, []byte("installed a snapshot from the leader")) {
		t.Errorf("%s caught up from the log, not from a snapshot: no records were fetched over TLS", f.id)
	}

	ports := freePorts(t, 2)
	rogue := c.newNode(9, ports[0], ports[1])
	rogue.args = newTestCA(t, "rogue").tlsFlags(t, rogue.id)
	c.start(rogue)
	t.Cleanup(func() { c.kill(rogue) })
	c.await(30*time.Second, "the rogue node to try to join", func() bool {
		b, _ := os.ReadFile(rogue.logPath)
		return bytes.Contains(b, []byte("join the cluster"))
	})
	st, err := c.status(c.leader())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st.Nodes {
		if m.Id == rogue.id {
			t.Errorf("a node of another CA joined: %v", st.Nodes)
		}
	}
}
