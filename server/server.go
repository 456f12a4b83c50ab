// Package server is Junction's composition root: what `junction server`
// runs. It opens the broker, starts the connector host on it, and serves
// every API on one port: the gRPC and Connect protocols (HTTP/1.1 and h2c)
// for the services in api/junction/v1, gRPC reflection (so grpcurl works
// without the .proto files), /healthz, /metrics (Prometheus) and whatever
// else is mounted with Options.Mounts. It is the only package that sees
// both the broker and the connector host.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/broker/api"
	"github.com/junctionhq/junction/broker/auth"
	"github.com/junctionhq/junction/broker/cluster"
	"github.com/junctionhq/junction/plugin"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// Options configures a Server. Zero fields take the documented defaults.
type Options struct {
	// DataDir holds the metadata file and station logs. Default "./data".
	DataDir string
	// Listen is the address to serve on. Default "localhost:7400".
	Listen string
	// MaxMessageBytes is the default largest accepted message. Default 8 MiB.
	MaxMessageBytes int
	// SegmentBytes is the size at which segment files roll. Default 64 MiB.
	SegmentBytes int64
	// RetentionInterval is how often retention runs. Default 5s.
	RetentionInterval time.Duration
	// PluginDirs are searched for connector plugins, in order. Default
	// DATA/plugins, then the plugins directory next to the junction binary
	// (bin/plugins in a source build).
	PluginDirs []string
	// ConnectorsDir, when set, holds connector definitions (*.yaml) applied
	// at start; in a cluster, whenever this node becomes the leader.
	ConnectorsDir string
	// ConnectorRestart is how failing connectors are restarted; zero
	// fields take plugin.DefaultRestartPolicy's.
	ConnectorRestart plugin.RestartPolicy
	// Logger receives the broker's log. Default slog.Default().
	Logger *slog.Logger
	// Mounts are extra handlers served on the API port next to the
	// built-in ones.
	Mounts []Mount
	// MaxRequestBytes and MaxInFlightBytes bound request bodies; see
	// HandlerOptions.
	MaxRequestBytes  int
	MaxInFlightBytes int64
	// IdleTimeout closes keep-alive and HTTP/2 connections idle this long.
	// Default 30s.
	IdleTimeout time.Duration
	// MaxConcurrentStreams bounds the HTTP/2 streams of one connection.
	// Default 250.
	MaxConcurrentStreams int
	// MaxNackDelay is the longest redelivery delay a nack may ask for.
	// Default 24h.
	MaxNackDelay time.Duration
	// MaxOpenSegments bounds the open files of sealed segments, and of
	// idle partitions' active segments, across all stations. Default: a
	// quarter of the process's open file limit.
	MaxOpenSegments int
	// DisableDashboard stops serving the web dashboard at "/".
	DisableDashboard bool
	// Hub, when set, serves HubService on the first of PluginDirs.
	Hub HubLoader
	// RecoverMeta rebuilds a damaged metadata file at start, keeping the
	// bad one aside (see broker.Options.RecoverMeta).
	RecoverMeta bool
	// Security configures authentication, TLS and what connectors may
	// reach; see SecurityOptions.
	Security SecurityOptions
	// Cluster, when set, makes the server a node of a cluster (see package
	// broker/cluster); its DataDir and Logger are the server's. Nil: a
	// single node, with no raft anywhere.
	Cluster *cluster.Config
}

// Mount is an HTTP handler served under a pattern of http.ServeMux (such
// as "/ui/" or "GET /debug/x").
type Mount struct {
	Pattern string
	Handler http.Handler
}

func (o Options) withDefaults() Options {
	if o.DataDir == "" {
		o.DataDir = "./data"
	}
	if o.Listen == "" {
		o.Listen = "localhost:7400"
	}
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = broker.DefaultMaxMessageBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PluginDirs == nil {
		o.PluginDirs = plugin.DefaultDirs(o.DataDir)
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Second
	}
	if o.MaxConcurrentStreams <= 0 {
		o.MaxConcurrentStreams = 250
	}
	return o
}

// Server is a running broker with its API listener.
type Server struct {
	broker *broker.Broker
	host   *plugin.Host
	auth   *auth.Auth
	tls    *tlsReloader
	node   *cluster.Node
	http   *http.Server
	ln     net.Listener
	log    *slog.Logger
	done   chan struct{}
	cancel context.CancelFunc
}

// Start opens the broker in opts.DataDir and starts serving on opts.Listen
// (or on ln when it is non-nil, which Start then owns). It returns once the
// port is accepting connections.
func Start(ctx context.Context, opts Options, ln net.Listener) (*Server, error) {
	opts = opts.withDefaults()
	if opts.MaxMessageBytes < 0 || opts.MaxMessageBytes > 1<<30 {
		return nil, fmt.Errorf("max message size must be between 1 B and 1 GiB, got %d", opts.MaxMessageBytes)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var node *cluster.Node
	var repl broker.Replicator
	if opts.Cluster != nil {
		// A node tells the others its API address, so it listens first.
		if ln == nil {
			var err error
			if ln, err = net.Listen("tcp", opts.Listen); err != nil {
				return nil, fmt.Errorf("listen on %s: %w", opts.Listen, err)
			}
		}
		c := *opts.Cluster
		c.DataDir, c.Logger = opts.DataDir, opts.Logger
		var err error
		if node, err = cluster.New(c); err != nil {
			ln.Close()
			return nil, err
		}
		repl = node
	}
	b, err := broker.Open(broker.Options{
		DataDir:           opts.DataDir,
		MaxMessageBytes:   uint32(opts.MaxMessageBytes),
		SegmentBytes:      opts.SegmentBytes,
		RetentionInterval: opts.RetentionInterval,
		MaxNackDelay:      opts.MaxNackDelay,
		MaxOpenSegments:   opts.MaxOpenSegments,
		Logger:            opts.Logger,
		Registerer:        reg,
		RecoverMeta:       opts.RecoverMeta,
		Replicator:        repl,
	})
	if err != nil {
		if ln != nil && node != nil {
			ln.Close()
		}
		return nil, err
	}
	authn, err := openAuth(b, opts, ln, node)
	if err != nil {
		b.Close()
		return nil, err
	}
	tlsr, err := newTLSReloader(opts.Security)
	if err != nil {
		b.Close()
		closeListener(ln)
		return nil, err
	}
	hostOpts := plugin.Options{Broker: b, Store: b.Connectors(), PluginDirs: opts.PluginDirs, Logger: opts.Logger, Restart: opts.ConnectorRestart}
	if err := confineConnectors(&hostOpts, opts); err != nil {
		b.Close()
		closeListener(ln)
		return nil, err
	}
	if node != nil {
		placeConnectors(&hostOpts, node, b)
		if err := node.Start(ctx, b, apiAddress(opts.Cluster.APIAdvertise, ln)); err != nil {
			b.Close()
			closeListener(ln)
			return nil, err
		}
	}
	host, err := plugin.New(ctx, hostOpts)
	if err != nil {
		if node != nil {
			node.Close()
			ln.Close()
		}
		b.Close()
		return nil, fmt.Errorf("start connector host: %w", err)
	}
	if node != nil {
		watchPlacement(node, host, opts.Logger, opts.ConnectorsDir)
	}
	reg.MustRegister(&connectorCollector{host})
	if opts.ConnectorsDir != "" && node == nil {
		if err := host.LoadDir(ctx, opts.ConnectorsDir); err != nil {
			opts.Logger.Error("some connector definitions were not applied", "dir", opts.ConnectorsDir, "err", err)
		}
	}
	if ln == nil {
		ln, err = net.Listen("tcp", opts.Listen)
		if err != nil {
			host.Close()
			b.Close()
			return nil, fmt.Errorf("listen on %s: %w", opts.Listen, err)
		}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Server{broker: b, host: host, auth: authn, tls: tlsr, node: node, ln: ln, log: opts.Logger, done: make(chan struct{}), cancel: cancel}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if tlsr != nil {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	s.http = &http.Server{
		Handler: Handler(b, host, reg, HandlerOptions{MaxMessageBytes: opts.MaxMessageBytes, Mounts: opts.Mounts, Cluster: node,
			MaxRequestBytes: opts.MaxRequestBytes, MaxInFlightBytes: opts.MaxInFlightBytes,
			Auth: authn, MetricsOpen: opts.Security.MetricsOpen, Insecure: opts.Security.Insecure,
			Hub: opts.Hub, PluginDir: firstDir(opts.PluginDirs), Dashboard: !opts.DisableDashboard}),
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       opts.IdleTimeout,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: opts.MaxConcurrentStreams},
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	if tlsr != nil {
		s.http.TLSConfig = tlsr.config()
	}
	go func() {
		defer close(s.done)
		serve := s.http.Serve
		if tlsr != nil {
			serve = func(ln net.Listener) error { return s.http.ServeTLS(ln, "", "") }
		}
		if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", "err", err)
		}
	}()
	abs, _ := filepath.Abs(opts.DataDir)
	s.log.Info("junction broker listening", "addr", ln.Addr().String(), "data", abs, "tls", tlsr != nil)
	announceAuth(s.log, authn, ln.Addr())
	return s, nil
}

// HandlerOptions configures Handler.
type HandlerOptions struct {
	// MaxMessageBytes is the largest message a station accepts. Default
	// broker.DefaultMaxMessageBytes.
	MaxMessageBytes int
	// MaxRequestBytes bounds one request body or stream message, after
	// decompression. Default twice MaxMessageBytes plus 1 MiB.
	MaxRequestBytes int
	// MaxInFlightBytes bounds the request bytes held by all requests
	// together; past it requests are refused with 429. Default 256 MiB.
	MaxInFlightBytes int64
	// Mounts are served next to the built-in handlers.
	Mounts []Mount
	// Auth, when set, authenticates and authorises every call (its
	// interceptor covers every service mounted here) and serves the auth,
	// user and token services; Mounts and /metrics then need a token too,
	// unless MetricsOpen. Nil serves without any checks.
	Auth *auth.Auth
	// MetricsOpen serves /metrics without authentication.
	MetricsOpen bool
	// Insecure serves an open broker (no users) to any Host; without it
	// such a broker answers only requests addressed to a loopback host.
	Insecure bool
	// Cluster is the node whose ClusterService is served; nil for a single
	// node.
	Cluster *cluster.Node
	// Hub and PluginDir configure HubService; without them its calls fail
	// with FAILED_PRECONDITION.
	Hub       HubLoader
	PluginDir string
	// Dashboard serves the web dashboard at "/". Its page and assets are
	// public; everything it shows comes from the API, which Auth guards.
	Dashboard bool
}

func (o HandlerOptions) withDefaults() HandlerOptions {
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = broker.DefaultMaxMessageBytes
	}
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = 2*o.MaxMessageBytes + 1<<20
	}
	if o.MaxInFlightBytes <= 0 {
		o.MaxInFlightBytes = 256 << 20
	}
	o.MaxInFlightBytes = max(o.MaxInFlightBytes, int64(o.MaxRequestBytes))
	return o
}

// Handler returns the HTTP handler serving every API of b and host, with
// metrics from reg, and the handlers o mounts.
func Handler(b *broker.Broker, host *plugin.Host, reg *prometheus.Registry, o HandlerOptions) http.Handler {
	o = o.withDefaults()
	inflight := newBudget(o.MaxInFlightBytes)
	reg.MustRegister(inflight.gauge)
	opts := []connect.HandlerOption{
		connect.WithReadMaxBytes(o.MaxRequestBytes),
		gzipWithin(int64(o.MaxRequestBytes) + 1),
		connect.WithCompressMinBytes(1 << 12),
	}
	opts = append(opts, jsonCodecs()...)
	if o.Auth != nil {
		opts = append(opts, connect.WithInterceptors(o.Auth.Interceptor()))
	}
	mux := http.NewServeMux()
	handlers, services := api.Handlers(b, api.Limits{InFlight: inflight}, opts...)
	for path, h := range handlers {
		mux.Handle(path, h)
	}
	services = append(services, mountAuth(mux, o.Auth, opts)...)
	mux.Handle(junctionv1connect.NewConnectorServiceHandler(&connectorService{h: host, node: o.Cluster}, opts...))
	mux.Handle(junctionv1connect.NewClusterServiceHandler(cluster.NewService(o.Cluster, b), opts...))
	mux.Handle(junctionv1connect.NewHubServiceHandler(&hubService{load: o.Hub, dir: o.PluginDir}, opts...))
	reflector := grpcreflect.NewStaticReflector(append(services, junctionv1connect.ConnectorServiceName, junctionv1connect.ClusterServiceName, junctionv1connect.HubServiceName)...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector, opts...))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector, opts...))
	mux.Handle("GET /metrics", guard(o.Auth, !o.MetricsOpen, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))
	if o.Dashboard {
		mountDashboard(mux, o.Auth)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	for _, m := range o.Mounts {
		mux.Handle(m.Pattern, guard(o.Auth, true, m.Handler))
	}
	var h http.Handler = mux
	if o.Dashboard && o.Auth != nil {
		h = dashboardSessions(h)
	}
	return loopbackOnly(o.Auth, o.Insecure, auth.Middleware(limitBodies(h, inflight, int64(o.MaxRequestBytes))))
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host is the server's connector host.
func (s *Server) Host() *plugin.Host { return s.host }

// Broker is the broker the server serves.
func (s *Server) Broker() *broker.Broker { return s.broker }

// Close stops accepting requests, ends streams and long polls, waits up to
// five seconds for requests in flight, and closes the broker.
func (s *Server) Close() error {
	s.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close()
	}
	<-s.done
	s.host.Close()
	if s.node != nil {
		if err := s.node.Close(); err != nil {
			s.log.Warn("close cluster node", "err", err)
		}
	}
	if berr := s.broker.Close(); berr != nil {
		return berr
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// connectorCollector reports every connector's counters at scrape time.
type connectorCollector struct{ h *plugin.Host }

var (
	connRecordsIn  = prometheus.NewDesc("junction_connector_records_in_total", "Records a connector read from its input side, since it was created.", []string{"connector"}, nil)
	connRecordsOut = prometheus.NewDesc("junction_connector_records_out_total", "Records a connector wrote to its output side, since it was created.", []string{"connector"}, nil)
	connRejected   = prometheus.NewDesc("junction_connector_records_rejected_total", "Records a connector sent to its dead-letter station, since it was created.", []string{"connector"}, nil)
	connBytesIn    = prometheus.NewDesc("junction_connector_bytes_in_total", "Bytes of the keys and values of the records a connector read, since it was created.", []string{"connector"}, nil)
	connBytesOut   = prometheus.NewDesc("junction_connector_bytes_out_total", "Bytes of the keys and values of the records a connector wrote, since it was created.", []string{"connector"}, nil)
	connErrors     = prometheus.NewDesc("junction_connector_errors_total", "Runs of a connector that ended in an error, since it was created.", []string{"connector"}, nil)
	connRestarts   = prometheus.NewDesc("junction_connector_restarts_total", "Plugin restarts after failures.", []string{"connector"}, nil)
	connLag        = prometheus.NewDesc("junction_connector_lag_messages", "Messages of a sink's station not yet written.", []string{"connector"}, nil)
	connUp         = prometheus.NewDesc("junction_connector_running", "1 when the connector is running.", []string{"connector", "state"}, nil)
)

func (c *connectorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{connRecordsIn, connRecordsOut, connRejected, connBytesIn, connBytesOut, connErrors, connRestarts, connLag, connUp} {
		ch <- d
	}
}

func (c *connectorCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.h.List() {
		ch <- prometheus.MustNewConstMetric(connRecordsIn, prometheus.CounterValue, float64(st.Total.RecordsIn), st.Name)
		ch <- prometheus.MustNewConstMetric(connRecordsOut, prometheus.CounterValue, float64(st.Total.RecordsOut), st.Name)
		ch <- prometheus.MustNewConstMetric(connRejected, prometheus.CounterValue, float64(st.Total.Rejected), st.Name)
		ch <- prometheus.MustNewConstMetric(connBytesIn, prometheus.CounterValue, float64(st.Total.BytesIn), st.Name)
		ch <- prometheus.MustNewConstMetric(connBytesOut, prometheus.CounterValue, float64(st.Total.BytesOut), st.Name)
		ch <- prometheus.MustNewConstMetric(connErrors, prometheus.CounterValue, float64(st.Total.Errors), st.Name)
		ch <- prometheus.MustNewConstMetric(connRestarts, prometheus.CounterValue, float64(st.Restarts), st.Name)
		ch <- prometheus.MustNewConstMetric(connLag, prometheus.GaugeValue, float64(st.Lag), st.Name)
		up := 0.0
		if st.State == plugin.StateRunning {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(connUp, prometheus.GaugeValue, up, st.Name, string(st.State))
	}
}

// apiAddress is the API address a cluster node gives the others: adv, or
// the listener's.
func apiAddress(adv string, ln net.Listener) string {
	if adv != "" {
		return adv
	}
	return ln.Addr().String()
}
