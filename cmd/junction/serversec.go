package main

import (
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
func (s *serverSecFlags) options() (server.SecurityOptions, error) {
	m, err := auth.ParseMode(s.mode)
	if err != nil {
		return server.SecurityOptions{}, usagef("--auth: %v", err)
	}
	o := s.opts
	o.AuthMode = m
	return o, nil
}
