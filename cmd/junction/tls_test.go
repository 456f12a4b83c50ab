package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 (its own CA)
// to dir as cert.pem and key.pem and returns the certificate PEM.
func selfSigned(t *testing.T, dir string, serial int64) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600)
	return certPEM
}

func handshakes(addr string, caPEM []byte) bool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServerTLSAndSIGHUPReload runs junction server with TLS, rotates its
// certificate files and sends SIGHUP: new connections get the new
// certificate, and the CLI talks to it with --tls-ca.
func TestServerTLSAndSIGHUPReload(t *testing.T) {
	dir := t.TempDir()
	oldCA := selfSigned(t, dir, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuf
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"server", "--data", filepath.Join(dir, "data"), "--listen", addr, "--plugins", dir,
			"--tls-cert", filepath.Join(dir, "cert.pem"), "--tls-key", filepath.Join(dir, "key.pem")},
			strings.NewReader(""), &bytes.Buffer{}, &stderr, func(string) string { return "" })
	}()
	waitFor(t, "the TLS broker to answer", func() bool { return handshakes(addr, oldCA) })

	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, oldCA, 0o600)
	out, errs, code := runCLI(t, "", "--server", addr, "--tls-ca", caFile, "station", "create", "orders")
	if code != 0 {
		t.Fatalf("station create over TLS: exit %d %s %s", code, out, errs)
	}

	newCA := selfSigned(t, dir, 2)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reloaded certificate", func() bool { return handshakes(addr, newCA) })
	if handshakes(addr, oldCA) {
		t.Fatal("new connections still get the old certificate")
	}
	cancel()
	select {
	case c := <-done:
		if c != 0 {
			t.Fatalf("server exit %d\n%s", c, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
	}
	if !strings.Contains(stderr.String(), "tls certificate reloaded") {
		t.Errorf("no reload line in the log:\n%s", stderr.String())
	}
}
