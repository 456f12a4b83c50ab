package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"connectrpc.com/connect"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/broker/auth"
	"github.com/junctionhq/junction/broker/cluster"
)

// SecurityOptions configures who may call the server and what connectors
// may reach.
type SecurityOptions struct {
	// AuthMode says when callers must authenticate: auth.ModeAuto (the
	// default) once a user exists, auth.ModeRequired always.
	AuthMode auth.Mode
	// Insecure allows listening on a non-loopback address while
	// authentication is off (no users), which lets anyone who can reach
	// the port do anything.
	Insecure bool
	// MetricsOpen serves /metrics without authentication.
	MetricsOpen bool
	// ConnectorEnv names the variables of the broker's environment that
	// connector definitions may reference as ${VAR}. Default none.
	ConnectorEnv []string
	// ConnectorSecrets is a file of NAME=VALUE lines that connector
	// definitions may reference as ${NAME}.
	ConnectorSecrets string
	// FileRoots are the directories connectors may read and write (config
	// fields their plugins mark as paths). Default: the data directory.
	FileRoots []string
	// TLSCert and TLSKey are PEM files of the API port's certificate and
	// key; set, the port serves HTTP/2 and HTTP/1.1 over TLS only.
	TLSCert, TLSKey string
	// TLSClientCA is a PEM file of the CAs client certificates are
	// verified against (mutual TLS). A verified client certificate
	// authenticates as the user named by its subject's common name.
	TLSClientCA string
}

// ErrInsecureListen is returned by Start for a non-loopback listen address
// while authentication is off and Insecure is not set.
var ErrInsecureListen = errors.New("refusing to serve without authentication on a non-loopback address")

func openAuth(b *broker.Broker, opts Options, ln net.Listener, node *cluster.Node) (*auth.Auth, error) {
	listen := opts.Listen
	if ln != nil {
		listen = ln.Addr().String()
	}
	store := b.Auth()
	if node != nil {
		store = node.AuthStore(store)
	}
	ao := auth.Options{Store: store, Mode: opts.Security.AuthMode, Logger: opts.Logger, OpenToAnyAddress: opts.Security.Insecure}
	if node != nil {
		ao.CaughtUp = node.CaughtUp
		ao.SyncWithLeader = node.SyncWithLeader
	}
	a, err := auth.New(ao)
	if err != nil {
		closeListener(ln)
		return nil, fmt.Errorf("authentication: %w", err)
	}
	if node != nil {
		replicateAuth(node, a, opts.Logger)
	}
	if !a.Enabled() && !opts.Security.Insecure && !loopbackAddr(listen) {
		closeListener(ln)
		return nil, fmt.Errorf("%w %s: the broker has no users, so anyone reaching it could do anything; "+
			"create a user first (junction user create NAME --role admin against a loopback broker), "+
			"start with --auth required, or pass --insecure", ErrInsecureListen, listen)
	}
	return a, nil
}

// loopbackAddr reports whether a listen address only accepts loopback
// connections.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func announceAuth(log *slog.Logger, a *auth.Auth, addr net.Addr) {
	switch {
	case a.Enabled() && a.Mode() == auth.ModeRequired && len(a.Users()) == 0:
		log.Warn("authentication required and no users yet: only 'junction user create NAME --role admin' from loopback is answered")
	case a.Enabled():
		log.Info("authentication on", "users", len(a.Users()))
	case a.CatchingUp():
		log.Warn("no users on this node yet: until it has caught up with the cluster's, callers without a token are told it is catching up", "addr", addr.String())
	default:
		log.Warn("authentication OFF: this broker has no users and lets every loopback caller do anything; 'junction user create NAME --role admin' turns it on", "addr", addr.String())
	}
}

// mountAuth mounts the auth, user and token services and returns their
// names for reflection.
func mountAuth(mux *http.ServeMux, a *auth.Auth, opts []connect.HandlerOption) []string {
	if a == nil {
		return nil
	}
	handlers, services := a.Handlers(opts...)
	for path, h := range handlers {
		mux.Handle(path, h)
	}
	return services
}

// guard puts h behind authentication when a is set and protect holds.
func guard(a *auth.Auth, protect bool, h http.Handler) http.Handler {
	if a == nil || !protect {
		return h
	}
	return a.Require(h)
}

func closeListener(ln net.Listener) {
	if ln != nil {
		ln.Close()
	}
}
