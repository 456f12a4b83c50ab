package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/junctionhq/junction/broker/auth"
	"github.com/junctionhq/junction/server"
)

// serverSecFlags are junction server's flags for authentication, TLS and
// what connectors may reach.
type serverSecFlags struct {
	mode string
	opts server.SecurityOptions
}

func (s *serverSecFlags) add(f *pflag.FlagSet) {
	f.StringVar(&s.mode, "auth", "auto", "auto: authentication on once a user exists (a broker with no users answers loopback callers only); required: on from the start")
	f.BoolVar(&s.opts.Insecure, "insecure", false, "allow a non-loopback --listen address while the broker has no users (anyone reaching the port may do anything)")
	f.BoolVar(&s.opts.MetricsOpen, "metrics-open", false, "serve /metrics without authentication")
	f.StringSliceVar(&s.opts.ConnectorEnv, "connector-env", nil, "variables of this environment connector definitions may use as ${VAR} (comma-separated or repeated; default none)")
	f.StringVar(&s.opts.ConnectorSecrets, "connector-secrets", "", "file of NAME=VALUE lines connector definitions may use as ${NAME}")
	f.StringSliceVar(&s.opts.FileRoots, "file-roots", nil, "directories connectors may read and write (comma-separated or repeated; default: the data directory)")
}

// options validates the flags and returns the server's security options.
// The global --tls-cert and --tls-key are the broker's certificate here,
// and --tls-ca the CA client certificates are verified against.
func (s *serverSecFlags) options(a *app) (server.SecurityOptions, error) {
	m, err := auth.ParseMode(s.mode)
	if err != nil {
		return server.SecurityOptions{}, usagef("--auth: %v", err)
	}
	o := s.opts
	o.AuthMode = m
	o.TLSCert, o.TLSKey, o.TLSClientCA = a.sec.tlsCert, a.sec.tlsKey, a.sec.tlsCA
	return o, nil
}

const serverSecurityHelp = `
Security: a broker with no users answers loopback callers only, and says
so; the first 'junction user create NAME --role admin' (or --auth required)
turns authentication on. Listening on a non-loopback address without users
needs --insecure. --tls-cert and --tls-key serve the port over TLS (HTTP/2
and HTTP/1.1); --tls-ca verifies client certificates against a CA (mutual
TLS: a certificate authenticates as the user named by its common name).
SIGHUP reloads the TLS files without dropping connections.

Connectors: ${VAR} in definitions resolves only in variables named by
--connector-env or set in the --connector-secrets file; paths in their
config must lie in --file-roots (default: the data directory).`

// reloadOnHUP reloads srv's TLS files on every SIGHUP until ctx ends.
func reloadOnHUP(ctx context.Context, srv *server.Server, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := srv.ReloadTLS(); err != nil {
					log.Error("SIGHUP: tls reload failed; keeping the current certificate", "err", err)
				}
			}
		}
	}()
}
