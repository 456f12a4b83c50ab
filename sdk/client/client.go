package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// DefaultAddr is the broker address the CLI and examples use by default.
const DefaultAddr = "localhost:7400"

// Client is a connection to one Junction broker. It is safe for concurrent
// use; create one per broker and share it.
type Client struct {
	addr     string
	baseURL  string
	opts     options
	httpc    *http.Client
	ownHTTP  bool
	stations junctionv1connect.StationServiceClient
	messages junctionv1connect.MessageServiceClient
	groups   junctionv1connect.GroupServiceClient

	connectors junctionv1connect.ConnectorServiceClient
	schemas    junctionv1connect.SchemaServiceClient
	deadLetter junctionv1connect.DeadLetterServiceClient
	auth       junctionv1connect.AuthServiceClient
	users      junctionv1connect.UserServiceClient
	tokens     junctionv1connect.TokenServiceClient
	cluster    junctionv1connect.ClusterServiceClient

	follow follower
}

// Option configures [Connect].
type Option func(*options)

type options struct {
	httpClient     *http.Client
	dialTimeout    time.Duration
	requestTimeout time.Duration
	logger         *slog.Logger
	token          string
	tls            *tls.Config
}

// WithHTTPClient makes the client use hc for every call instead of its own
// HTTP/2 client. hc must speak HTTP/2 to the broker (for http:// addresses,
// unencrypted HTTP/2 with prior knowledge), since the gRPC protocol and
// bidirectional streams need it. The client does not close hc.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *options) { o.httpClient = hc }
}

// WithDialTimeout bounds establishing a TCP connection. Default 5s.
func WithDialTimeout(d time.Duration) Option {
	return func(o *options) { o.dialTimeout = d }
}

// WithRequestTimeout bounds each unary call whose context has no deadline
// (for Pull, the timeout is added to the pull's max wait). Default 30s; zero
// or negative disables it. Streams are not bounded by it.
func WithRequestTimeout(d time.Duration) Option {
	return func(o *options) { o.requestTimeout = d }
}

// WithLogger sets where the client logs events it cannot return as errors,
// such as a producer stream being re-established. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// Connect returns a client for the broker at addr ("host:port", or a URL
// such as "http://host:port") after checking that the broker answers. It
// fails with an error naming addr if it does not; ctx bounds that check.
func Connect(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	o := options{dialTimeout: 5 * time.Second, requestTimeout: 30 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	baseURL, err := baseURL(addr)
	if err != nil {
		return nil, err
	}
	c := &Client{addr: addr, baseURL: baseURL, opts: o, httpc: o.httpClient}
	if c.httpc == nil {
		c.httpc = newHTTPClient(strings.HasPrefix(baseURL, "https://"), o.dialTimeout, o.tls)
		c.ownHTTP = true
	}
	copts := []connect.ClientOption{connect.WithGRPC()}
	if o.token != "" {
		copts = append(copts, connect.WithInterceptors(bearer(o.token)))
	}
	c.follow.copts = copts
	c.httpc = c.follow.following(c.httpc)
	copts = append(copts, connect.WithInterceptors(c.follow.interceptor(c)))
	c.stations = junctionv1connect.NewStationServiceClient(c.httpc, baseURL, copts...)
	c.messages = junctionv1connect.NewMessageServiceClient(c.httpc, baseURL, append(slices.Clip(copts), connect.WithCodec(messagesCodec))...)
	c.groups = junctionv1connect.NewGroupServiceClient(c.httpc, baseURL, copts...)
	c.connectors = junctionv1connect.NewConnectorServiceClient(c.httpc, baseURL, copts...)
	c.schemas = junctionv1connect.NewSchemaServiceClient(c.httpc, baseURL, copts...)
	c.deadLetter = junctionv1connect.NewDeadLetterServiceClient(c.httpc, baseURL, copts...)
	c.auth = junctionv1connect.NewAuthServiceClient(c.httpc, baseURL, copts...)
	c.users = junctionv1connect.NewUserServiceClient(c.httpc, baseURL, copts...)
	c.tokens = junctionv1connect.NewTokenServiceClient(c.httpc, baseURL, copts...)
	c.cluster = junctionv1connect.NewClusterServiceClient(c.httpc, baseURL, copts...)

	pctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	// A broker that refuses the caller has answered: Connect succeeds, so
	// that Login works, and later calls say what is missing.
	if _, err := c.stations.ListStations(pctx, connect.NewRequest(&junctionv1.ListStationsRequest{})); err != nil && !answered(err) {
		c.Close()
		return nil, fmt.Errorf("connect to junction broker at %s: %w", addr, fromConnect(err))
	}
	return c, nil
}

// baseURL turns "host:port" or a URL into the base URL of the API.
func baseURL(addr string) (string, error) {
	if addr == "" {
		return "", fmt.Errorf("connect: empty broker address")
	}
	if strings.Contains(addr, "://") {
		if !strings.HasPrefix(addr, "http://") && !strings.HasPrefix(addr, "https://") {
			return "", fmt.Errorf("connect: broker address %q: scheme must be http or https", addr)
		}
		return strings.TrimRight(addr, "/"), nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", fmt.Errorf("connect: broker address %q: want host:port or a URL: %v", addr, err)
	}
	return "http://" + addr, nil
}

func newHTTPClient(useTLS bool, dialTimeout time.Duration, tlsConf *tls.Config) *http.Client {
	if tlsConf == nil {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	var protos http.Protocols
	if useTLS {
		protos.SetHTTP2(true)
	} else {
		protos.SetUnencryptedHTTP2(true)
	}
	t := &http.Transport{
		Protocols:           &protos,
		DialContext:         (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		HTTP2: &http.HTTP2Config{
			// Ping an idle connection so a dead broker is noticed.
			SendPingTimeout: 30 * time.Second,
			PingTimeout:     10 * time.Second,
			// Pulled batches arrive in frames of up to 1 MiB, not the
			// transport's default 16 KiB: a sixty-fourth of the reads.
			MaxReadFrameSize: 1 << 20,
		},
	}
	return &http.Client{Transport: t}
}

// Addr returns the address the client was created with.
func (c *Client) Addr() string { return c.addr }

// Close releases the client's idle connections. Producers and consumers
// created from it must be closed first. Close always returns nil.
func (c *Client) Close() error {
	if c.ownHTTP {
		c.httpc.CloseIdleConnections()
	}
	return nil
}

// unaryCtx applies the request timeout (plus extra) when ctx has no deadline.
func (c *Client) unaryCtx(ctx context.Context, extra time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || c.opts.requestTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.opts.requestTimeout+extra)
}
