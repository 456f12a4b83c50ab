package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// TLS on the API port: the certificate (and the CA client certificates
// are verified against, for mutual TLS) are read from files at start and
// again by ReloadTLS (junction server does on SIGHUP). Connections keep
// the certificate they were opened with; new ones get the reloaded one.

// tlsFiles is the loaded TLS state, swapped whole on reload.
type tlsFiles struct {
	cert     *tls.Certificate
	clientCA *x509.CertPool
}

type tlsReloader struct {
	certFile, keyFile, clientCAFile string
	cur                             atomic.Pointer[tlsFiles]
}

func newTLSReloader(sec SecurityOptions) (*tlsReloader, error) {
	if sec.TLSCert == "" && sec.TLSKey == "" {
		if sec.TLSClientCA != "" {
			return nil, errors.New("tls: a client CA needs --tls-cert and --tls-key")
		}
		return nil, nil
	}
	if sec.TLSCert == "" || sec.TLSKey == "" {
		return nil, errors.New("tls: --tls-cert and --tls-key go together")
	}
	r := &tlsReloader{certFile: sec.TLSCert, keyFile: sec.TLSKey, clientCAFile: sec.TLSClientCA}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *tlsReloader) reload() error {
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load %s and %s: %w", r.certFile, r.keyFile, err)
	}
	f := &tlsFiles{cert: &cert}
	if r.clientCAFile != "" {
		pem, err := os.ReadFile(r.clientCAFile)
		if err != nil {
			return fmt.Errorf("tls: client CA: %w", err)
		}
		f.clientCA = x509.NewCertPool()
		if !f.clientCA.AppendCertsFromPEM(pem) {
			return fmt.Errorf("tls: client CA %s: no PEM certificate in it", r.clientCAFile)
		}
	}
	r.cur.Store(f)
	return nil
}

// config returns the server's TLS configuration, which reads the current
// files for every handshake.
func (r *tlsReloader) config() *tls.Config {
	base := &tls.Config{MinVersion: tls.VersionTLS12}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		f := r.cur.Load()
		c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*f.cert}, NextProtos: []string{"h2", "http/1.1"}}
		if f.clientCA != nil {
			c.ClientCAs = f.clientCA
			c.ClientAuth = tls.VerifyClientCertIfGiven
		}
		return c, nil
	}
	return base
}

// ReloadTLS reads the TLS certificate, key and client CA files again. New
// connections use them; open connections are not dropped. On error the
// previous files stay in use.
func (s *Server) ReloadTLS() error {
	if s.tls == nil {
		return errors.New("tls: the server does not use TLS")
	}
	if err := s.tls.reload(); err != nil {
		return err
	}
	s.log.Info("tls certificate reloaded", "cert", s.tls.certFile)
	return nil
}
