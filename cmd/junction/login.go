package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

func newLoginCmd(a *app) *cobra.Command {
	var (
		user, name    string
		passwordStdin bool
		ttl           durationFlag
	)
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to a broker and remember it as a context",
		Long: `Exchange a user's password for an API token and store it, with the broker's
address and TLS files, as a named context in ~/.junction/config.yaml (mode
0600; $JUNCTION_CONFIG overrides the path), which becomes the current
context. Later commands use the current context's broker and token unless
--server, --token or --context say otherwise.`,
		Example: `  junction login --user alice
  junction login --server broker.example.com:7400 --tls-ca ca.pem --user alice --name prod
  junction station list --context prod`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" {
				return usagef("--user is required")
			}
			pw, err := readPassword(a, "Password for "+user+": ", passwordStdin, false)
			if err != nil {
				return err
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			tok, info, err := c.Login(cmd.Context(), user, pw, ttl.v, "junction login")
			if err != nil {
				return err
			}
			path, err := a.cliConfigPath()
			if err != nil {
				return err
			}
			cfg, err := loadContexts(path)
			if err != nil {
				return err
			}
			// A context made with several servers keeps them all, so its
			// calls follow a cluster's leader wherever it moves.
			server := c.Addr()
			if list, _, err := a.clientOptions(); err == nil && strings.Contains(list, ",") {
				server = list
			}
			if name == "" {
				name = strings.TrimPrefix(strings.TrimPrefix(c.Addr(), "https://"), "http://")
			}
			cfg.put(cliContext{Name: name, Server: server, User: user, Token: tok, TLSCA: absPath(a.sec.tlsCA), TLSCert: absPath(a.sec.tlsCert), TLSKey: absPath(a.sec.tlsKey)})
			cfg.Current = name
			if err := cfg.save(path); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "logged in to %s as %s (context %s; token %s expires %s)\n", server, user, name, info.ID, info.ExpiresAt.Format("2006-01-02"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&user, "user", "", "user name")
	f.StringVar(&name, "name", "", "context name (default: the broker's host:port)")
	f.BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin's first line")
	f.Var(&ttl, "ttl", "token lifetime (default: the broker's, 30 days)")
	return cmd
}

// absPath makes a file flag's value absolute, so a context works from any
// directory.
func absPath(p string) string {
	if p == "" {
		return ""
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}
