package main

import (
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/broker/cluster"
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
		maxOpenSegs   int
		idleTimeout   time.Duration
		recoverMeta   bool
		sec           serverSecFlags
		nodeID        string
		clusterListen string
		clusterAdv    string
		apiAdv        string
		join          []string
		snapThreshold uint64
		trailingLogs  uint64
		snapInterval  time.Duration
		dialOverride  string
		clusterTLS    cluster.TLSFiles
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

With --node-id and --cluster-listen the broker is a node of a cluster that
replicates stations and messages through raft on the --cluster-listen port
(raft state under DATA/raft). The first node, started without --join,
bootstraps a new cluster; the others name it (or any member's API address)
with --join. A produce is acknowledged once a majority of nodes stored it
durably; every node serves reads of what it has stored.

` + serverSecurityHelp,
		Example: `  junction server
  junction server --data /var/lib/junction --listen :7400 --max-message-bytes 16MiB
  junction server --connectors ./connectors
  junction server --data d1 --listen :7400 --node-id n1 --cluster-listen 127.0.0.1:7401
  junction server --data d2 --listen :7410 --node-id n2 --cluster-listen 127.0.0.1:7411 --join 127.0.0.1:7400`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usagef("--log-level: must be debug, info, warn or error, got %q", logLevel)
			}
			if maxMsg.set && (maxMsg.v <= 0 || maxMsg.v > 1<<31-1) {
				return usagef("--max-message-bytes: must be between 1B and 2GiB, got %s", units.FormatSize(maxMsg.v))
			}
			if maxOpenSegs < 0 {
				return usagef("--max-open-segments: must not be negative, got %d", maxOpenSegs)
			}
			security, err := sec.options(a)
			if err != nil {
				return err
			}
			var cl *cluster.Config
			switch {
			case nodeID != "" && clusterListen != "":
				cl = &cluster.Config{NodeID: nodeID, RaftListen: clusterListen, RaftAdvertise: clusterAdv, APIAdvertise: apiAdv, Join: join,
					SnapshotThreshold: snapThreshold, TrailingLogs: trailingLogs, SnapshotInterval: snapInterval}
				if cl.DialOverrides, err = cluster.ParseDialOverrides(dialOverride); err != nil {
					return usagef("--cluster-test-dial: %v", err)
				}
				if clusterTLS.Enabled() && (clusterTLS.Cert == "" || clusterTLS.Key == "" || clusterTLS.CA == "") {
					return usagef("--cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca go together")
				}
				cl.TLS = clusterTLS
			case nodeID != "" || clusterListen != "" || len(join) > 0:
				return usagef("--node-id and --cluster-listen go together (and --join needs both)")
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
				MaxOpenSegments:  maxOpenSegs,
				IdleTimeout:      idleTimeout,
				RecoverMeta:      recoverMeta,
				Security:         security,
				Cluster:          cl,
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
	f.IntVar(&maxOpenSegs, "max-open-segments", 0, "most segment files kept open across all stations, besides the active segments of partitions being written; 0 picks a quarter of the open file limit")
	f.DurationVar(&idleTimeout, "idle-timeout", 30*time.Second, "close client connections idle this long")
	sec.add(f)
	f.StringVar(&nodeID, "node-id", "", "this node's id in a cluster (with --cluster-listen); keep it across restarts")
	f.StringVar(&clusterListen, "cluster-listen", "", "address for the cluster's raft traffic (with --node-id)")
	f.StringVar(&clusterAdv, "cluster-advertise", "", "raft address other nodes dial (default --cluster-listen)")
	f.StringVar(&apiAdv, "advertise", "", "API address other nodes send clients to (default the --listen address)")
	f.StringSliceVar(&join, "join", nil, "addresses of an existing cluster's members to join: cluster ports, or API ports of a cluster without users (default: bootstrap a new cluster)")
	f.Uint64Var(&snapThreshold, "cluster-snapshot-threshold", 8192, "raft entries after which a node snapshots its state (a manifest, not a copy of the data)")
	f.Uint64Var(&trailingLogs, "cluster-trailing-logs", 65536, "raft entries kept behind a snapshot, so a follower that was away briefly catches up from the log")
	f.DurationVar(&snapInterval, "cluster-snapshot-interval", 2*time.Minute, "how often a node checks whether to snapshot")
	f.StringVar(&clusterTLS.Cert, "cluster-tls-cert", "", "PEM certificate this node presents on the cluster port (mutual TLS between nodes)")
	f.StringVar(&clusterTLS.Key, "cluster-tls-key", "", "PEM key of --cluster-tls-cert")
	f.StringVar(&clusterTLS.CA, "cluster-tls-ca", "", "PEM CA that every node's cluster certificate must chain to")
	// Hidden: the cluster fault-injection tests route each link between
	// nodes through a proxy; it redirects only this node's own dials.
	f.StringVar(&dialOverride, "cluster-test-dial", "", "test only: ID=HOST:PORT[,...] cluster addresses to dial members at")
	_ = f.MarkHidden("cluster-test-dial")
	d := plugin.DefaultRestartPolicy
	f.DurationVar(&restart.Initial, "connector-restart-backoff", d.Initial, "first wait before restarting a failed connector; doubles on each failure")
	f.DurationVar(&restart.Max, "connector-restart-max-backoff", d.Max, "longest wait between connector restarts")
	f.IntVar(&restart.MaxFailures, "connector-max-failures", d.MaxFailures, "failures within --connector-failure-window after which a connector is marked failed")
	f.DurationVar(&restart.Window, "connector-failure-window", d.Window, "window in which connector failures are counted")
	return cmd
}
