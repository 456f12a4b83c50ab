package main

import (
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/plugin"
	"github.com/junctionhq/junction/sdk/units"
	"github.com/junctionhq/junction/server"
)

func newServerCmd(a *app) *cobra.Command {
	var (
		dataDir       string
		listen        string
		maxMsg        sizeFlag
		logLevel      string
		pluginDirs    []string
		connectorsDir string
		restart       plugin.RestartPolicy
		maxNackDelay  time.Duration
		idleTimeout   time.Duration
		recoverMeta   bool
		sec           serverSecFlags
		noDashboard   bool
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run a broker",
		Long: `Run a single-node broker serving the Junction API (gRPC and Connect),
/healthz, /metrics and the web dashboard (http://localhost:7400/) on one
port, until interrupted (SIGINT or SIGTERM).

Connector plugins are looked for in DATA/plugins and in the plugins
directory next to the junction binary, unless --plugins is given.
--connectors applies every *.yaml connector definition in a directory at
start.

--recover-meta is for a damaged metadata file (DATA/meta.db): it moves the
file aside and rebuilds a fresh one from what can still be read of it, and
every station directory whose record is lost comes back with its partitions
and default settings.

` + serverSecurityHelp,
		Example: `  junction server
  junction server --data /var/lib/junction --listen :7400 --max-message-bytes 16MiB
  junction server --connectors ./connectors`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usagef("--log-level: must be debug, info, warn or error, got %q", logLevel)
			}
			if maxMsg.set && (maxMsg.v <= 0 || maxMsg.v > 1<<31-1) {
				return usagef("--max-message-bytes: must be between 1B and 2GiB, got %s", units.FormatSize(maxMsg.v))
			}
			security, err := sec.options(a)
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			ctx := cmd.Context()
			srv, err := server.Start(ctx, server.Options{
				DataDir:          dataDir,
				Listen:           listen,
				MaxMessageBytes:  int(maxMsg.v),
				PluginDirs:       pluginDirs,
				ConnectorsDir:    connectorsDir,
				ConnectorRestart: restart,
				Logger:           logger,
				MaxNackDelay:     maxNackDelay,
				IdleTimeout:      idleTimeout,
				RecoverMeta:      recoverMeta,
				Security:         security,
				Hub:              a.brokerHub(dataDir),
				DisableDashboard: noDashboard,
			}, nil)
			if err != nil {
				return err
			}
			if security.TLSCert != "" {
				reloadOnHUP(ctx, srv, logger)
			}
			<-ctx.Done()
			logger.Info("shutting down")
			return srv.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data", "./data", "directory for the metadata file and station logs")
	f.StringVar(&listen, "listen", "localhost:7400", "address to serve on")
	f.Var(&maxMsg, "max-message-bytes", "default largest accepted message (default 8MiB)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringSliceVar(&pluginDirs, "plugins", nil, "directory of connector plugins (repeatable; default DATA/plugins and the plugins directory next to this binary)")
	f.BoolVar(&recoverMeta, "recover-meta", false, "rebuild a damaged metadata file from what can be read of it and the station directories, keeping the bad one aside")
	f.BoolVar(&noDashboard, "no-dashboard", false, "do not serve the web dashboard at /")
	f.StringVar(&connectorsDir, "connectors", "", "directory of connector definitions (*.yaml) to apply at start")
	f.DurationVar(&maxNackDelay, "max-nack-delay", 24*time.Hour, "longest redelivery delay a nack may ask for")
	f.DurationVar(&idleTimeout, "idle-timeout", 30*time.Second, "close client connections idle this long")
	sec.add(f)
	d := plugin.DefaultRestartPolicy
	f.DurationVar(&restart.Initial, "connector-restart-backoff", d.Initial, "first wait before restarting a failed connector; doubles on each failure")
	f.DurationVar(&restart.Max, "connector-restart-max-backoff", d.Max, "longest wait between connector restarts")
	f.IntVar(&restart.MaxFailures, "connector-max-failures", d.MaxFailures, "failures within --connector-failure-window after which a connector is marked failed")
	f.DurationVar(&restart.Window, "connector-failure-window", d.Window, "window in which connector failures are counted")
	return cmd
}
