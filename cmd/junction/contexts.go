package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/junctionhq/junction/sdk/client"
)

// cliContext is one named broker in ~/.junction/config.yaml, as kubectl
// keeps clusters: where it is, the token to send and the TLS files.
type cliContext struct {
	Name    string `yaml:"name"`
	Server  string `yaml:"server"`
	User    string `yaml:"user,omitempty"`
	Token   string `yaml:"token,omitempty"`
	TLSCA   string `yaml:"tls_ca,omitempty"`
	TLSCert string `yaml:"tls_cert,omitempty"`
	TLSKey  string `yaml:"tls_key,omitempty"`
}

// contextsConfig is the contexts part of the CLI's config file; it keeps
// the file's other keys (the hub's) across a save.
type contextsConfig struct {
	Contexts []cliContext `yaml:"contexts,omitempty"`
	Current  string       `yaml:"current_context,omitempty"`

	rest map[string]yaml.Node
}

func loadContexts(path string) (*contextsConfig, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &contextsConfig{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var c contextsConfig
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := yaml.Unmarshal(b, &c.rest); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	delete(c.rest, "contexts")
	delete(c.rest, "current_context")
	return &c, nil
}

// save writes the file atomically with mode 0600: it holds tokens.
func (c *contextsConfig) save(path string) error {
	out := map[string]any{}
	for k, v := range c.rest {
		out[k] = &v
	}
	if len(c.Contexts) > 0 {
		out["contexts"] = c.Contexts
	}
	if c.Current != "" {
		out["current_context"] = c.Current
	}
	b, err := yaml.Marshal(out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.yaml")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("config: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("config: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

func (c *contextsConfig) find(name string) *cliContext {
	for i := range c.Contexts {
		if c.Contexts[i].Name == name {
			return &c.Contexts[i]
		}
	}
	return nil
}

// put adds or replaces a context.
func (c *contextsConfig) put(ctx cliContext) {
	if old := c.find(ctx.Name); old != nil {
		*old = ctx
		return
	}
	c.Contexts = append(c.Contexts, ctx)
}

// secFlags are the global flags that say how to reach and authenticate
// to the broker.
type secFlags struct {
	token, context         string
	tlsCA, tlsCert, tlsKey string
	serverDefault          string
}

func (a *app) addSecurityFlags(root *cobra.Command, serverDefault string) {
	a.sec.serverDefault = serverDefault
	f := root.PersistentFlags()
	f.StringVar(&a.sec.token, "token", "", "API token to send (env JUNCTION_TOKEN; default: the context's)")
	f.StringVar(&a.sec.context, "context", "", "named broker from the config file (env JUNCTION_CONTEXT; default: the current context)")
	f.StringVar(&a.sec.tlsCA, "tls-ca", "", "CA certificate (PEM) to verify the broker's certificate with")
	f.StringVar(&a.sec.tlsCert, "tls-cert", "", "client certificate (PEM) for mutual TLS")
	f.StringVar(&a.sec.tlsKey, "tls-key", "", "client certificate's private key (PEM)")
}

func (a *app) cliConfigPath() (string, error) {
	if p := a.getenv("JUNCTION_CONFIG"); p != "" {
		return p, nil
	}
	home := a.getenv("HOME")
	if home == "" {
		return "", errors.New("config: $HOME is not set; set JUNCTION_CONFIG")
	}
	return filepath.Join(home, ".junction", "config.yaml"), nil
}

// currentContext returns the context the flags and environment select,
// nil when there is none.
func (a *app) currentContext() (*cliContext, error) {
	name := a.sec.context
	if name == "" {
		name = a.getenv("JUNCTION_CONTEXT")
	}
	path, err := a.cliConfigPath()
	if err != nil {
		if name != "" {
			return nil, err
		}
		return nil, nil
	}
	cfg, err := loadContexts(path)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = cfg.Current
	}
	if name == "" {
		return nil, nil
	}
	c := cfg.find(name)
	if c == nil {
		return nil, fmt.Errorf("context %q is not in %s (junction login --context %s adds it)", name, path, name)
	}
	return c, nil
}

// clientOptions resolves the broker address, token and TLS settings
// from flags, environment and the selected context, in that order. A
// context's token is only sent to the context's own server.
func (a *app) clientOptions() (string, []client.Option, error) {
	cc, err := a.currentContext()
	if err != nil {
		return "", nil, err
	}
	server := a.server
	explicit := server != a.sec.serverDefault || a.getenv("JUNCTION_SERVER") != ""
	if cc != nil && !explicit {
		server = cc.Server
	}
	if cc != nil && sameServer(server, cc.Server) {
		// The context applies.
	} else {
		cc = nil
	}
	tok := a.sec.token
	if tok == "" {
		tok = a.getenv("JUNCTION_TOKEN")
	}
	if tok == "" && cc != nil {
		tok = cc.Token
	}
	var opts []client.Option
	if tok != "" {
		opts = append(opts, client.WithToken(tok))
	}
	ca, cert, key := a.sec.tlsCA, a.sec.tlsCert, a.sec.tlsKey
	if cc != nil {
		ca, cert, key = orElse(ca, cc.TLSCA), orElse(cert, cc.TLSCert), orElse(key, cc.TLSKey)
	}
	if ca != "" || cert != "" || key != "" {
		tc, err := tlsConfig(ca, cert, key)
		if err != nil {
			return "", nil, err
		}
		opts = append(opts, client.WithTLSConfig(tc))
		addrs := strings.Split(server, ",")
		for i, addr := range addrs {
			if !strings.Contains(addr, "://") {
				addrs[i] = "https://" + addr
			}
		}
		server = strings.Join(addrs, ",")
	}
	return server, opts, nil
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func sameServer(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
		s = strings.TrimRight(s, "/")
		if h, p, err := net.SplitHostPort(s); err == nil && (h == "localhost" || h == "127.0.0.1" || h == "::1") {
			return "loopback:" + p
		}
		return s
	}
	return norm(a) == norm(b)
}

// tlsConfig builds the client's TLS configuration from PEM files.
func tlsConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", caFile)
		}
		tc.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, usagef("--tls-cert and --tls-key go together")
	}
	if certFile != "" {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	return tc, nil
}
