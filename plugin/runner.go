package plugin

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/plugin/config"
	"github.com/junctionhq/junction/sdk/connector"
)

// State is where a connector is in its life.
type State string

// Connector states.
const (
	StateStarting   State = "starting"
	StateRunning    State = "running"
	StatePaused     State = "paused"
	StateRestarting State = "restarting"
	StateFailed     State = "failed"
)

// Status describes a connector and how it is doing.
type Status struct {
	Name          string
	Connector     string // as requested: name or name@constraint
	PluginVersion string
	Kind          config.Kind
	Station       string
	DLQ           string
	State         State
	Restarts      int
	LastError     string
	LastErrorAt   time.Time
	StartedAt     time.Time
	// RecordsIn are records read from the input side (the station for a
	// sink, the external system for a source), RecordsOut those written
	// to the other side, Rejected those sent to the dead-letter station,
	// in the current run (since the plugin last started).
	RecordsIn, RecordsOut, Rejected uint64
	// Run counts the current run; Total the connector's whole life, kept
	// across pauses, restarts, updates and broker restarts.
	Run, Total Counts
	// Lag is, for a sink, the station's messages not yet written.
	Lag uint64
	// Checkpoint is, for a source, the last durable position as text.
	Checkpoint string
	// Config is the plugin config with secret fields redacted.
	Config map[string]any
}

// runner supervises one connector: it runs the plugin, restarts it with
// backoff, and keeps its status.
type runner struct {
	h    *Host
	def  *config.Connector
	inst Installed
	rec  record
	log  *slog.Logger

	total counters // since the connector was created

	mu        sync.Mutex
	state     State
	restarts  int
	lastErr   string
	lastErrAt time.Time
	startedAt time.Time
	runBase   Counts // total when the current run started
	cancel    context.CancelFunc
	done      chan struct{}
}

func newRunner(h *Host, def *config.Connector, inst Installed, rec record) *runner {
	r := &runner{h: h, def: def, inst: inst, rec: rec, state: StatePaused,
		log: h.log.With("connector", def.Name)}
	if !rec.Paused {
		r.state = StateStarting
	}
	r.loadTotals()
	r.runBase = r.total.load()
	return r
}

func (r *runner) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	r.cancel, r.done = cancel, make(chan struct{})
	r.state = StateStarting
	r.mu.Unlock()
	go r.supervise(ctx)
}

// stop cancels the connector and waits for it to wind down.
func (r *runner) stop() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	r.mu.Lock()
	if r.state != StateFailed {
		r.state = StatePaused
	}
	r.mu.Unlock()
}

func (r *runner) setState(s State) {
	r.mu.Lock()
	r.state = s
	if s == StateRunning {
		r.startedAt = time.Now()
	}
	r.mu.Unlock()
}

func (r *runner) fail(err error) {
	r.mu.Lock()
	r.state = StateFailed
	r.lastErr, r.lastErrAt = err.Error(), time.Now()
	r.mu.Unlock()
}

// supervise runs the connector until ctx is done, restarting it after
// failures with exponential backoff.
func (r *runner) supervise(ctx context.Context) {
	defer close(r.done)
	p := r.h.policy
	backoff := p.Initial
	var failures []time.Time
	for {
		started := time.Now()
		err := r.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("connector stopped unexpectedly")
		}
		if errors.Is(err, errSchemaChanged) {
			r.log.Info("station schema changed; restarting the sink")
			continue
		}
		r.total.errors.Add(1)
		now := time.Now()
		r.mu.Lock()
		r.lastErr, r.lastErrAt = err.Error(), now
		r.mu.Unlock()
		if now.Sub(started) > p.Window {
			backoff, failures = p.Initial, nil
		}
		failures = append(failures, now)
		for len(failures) > 0 && now.Sub(failures[0]) > p.Window {
			failures = failures[1:]
		}
		var bo *connector.BackoffError
		switch {
		case errors.Is(err, connector.ErrFatal), errors.Is(err, connector.ErrConfig), errors.Is(err, ErrInvalidDefinition):
			r.log.Error("connector failed; not restarting", "err", err)
			r.fail(err)
			return
		case len(failures) >= p.MaxFailures:
			r.log.Error("connector failed too often; not restarting", "failures", len(failures), "window", p.Window, "err", err)
			r.fail(fmt.Errorf("%d failures within %s, last: %w", len(failures), p.Window, err))
			return
		}
		wait := backoff
		if errors.As(err, &bo) && bo.Wait > 0 {
			wait = bo.Wait
		}
		r.log.Warn("connector failed; restarting", "err", err, "in", wait)
		r.mu.Lock()
		r.state = StateRestarting
		r.restarts++
		r.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, p.Max)
	}
}

// runOnce launches the plugin, configures and opens the connector, and
// pumps records until ctx is done or something fails.
func (r *runner) runOnce(ctx context.Context) error {
	r.setState(StateStarting)
	r.mu.Lock()
	r.runBase = r.total.load()
	r.mu.Unlock()
	shmBytes := 0
	if r.def.Kind == config.KindSink {
		shmBytes = sharedMemoryBytes(r.def.Batch)
	}
	proc, err := launch(r.inst, r.def.Env, shmBytes, r.log)
	if err != nil {
		return err
	}
	defer proc.stop()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case err := <-proc.watch(ctx, 2*time.Second):
			cancel(err)
		case <-ctx.Done():
		}
	}()
	cctx, ccancel := context.WithTimeout(ctx, r.def.Timeout)
	fes, err := proc.conn.Configure(cctx, connector.Kind(r.def.Kind), r.def.Station, r.def.Name, r.def.Config)
	ccancel()
	if err != nil {
		return r.cause(ctx, fmt.Errorf("configure: %w", err))
	}
	if len(fes) > 0 {
		return fmt.Errorf("configure: %w", connector.FieldErrors(fes))
	}
	switch r.def.Kind {
	case config.KindSink:
		sink, err := proc.sink()
		if err != nil {
			return err
		}
		err = r.runSink(ctx, sink)
		r.teardown(sink.Teardown)
		return r.cause(ctx, err)
	default:
		src, err := proc.source()
		if err != nil {
			return err
		}
		err = r.runSource(ctx, src)
		r.teardown(src.Teardown)
		return r.cause(ctx, err)
	}
}

// cause prefers the reason ctx was cancelled (the plugin died) to the
// error a call returned because of it.
func (r *runner) cause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return err
}

func (r *runner) teardown(fn func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fn(ctx); err != nil {
		r.log.Warn("connector teardown", "err", err)
	}
}

// call runs fn with the connector's timeout, turning a missed deadline
// into an error that says which call hung.
func (r *runner) call(ctx context.Context, what string, fn func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, r.def.Timeout)
	defer cancel()
	deadline, _ := cctx.Deadline()
	err := fn(cctx)
	// The plugin's gRPC server enforces the same deadline and may cancel
	// the call a moment before our own context expires.
	timedOut := errors.Is(cctx.Err(), context.DeadlineExceeded) || time.Until(deadline) < r.def.Timeout/20
	if err != nil && ctx.Err() == nil && timedOut {
		return fmt.Errorf("%s did not finish within the connector's timeout of %s: %w", what, r.def.Timeout, err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func (r *runner) status() Status {
	r.mu.Lock()
	st := Status{
		Name: r.def.Name, Connector: r.def.Plugin, PluginVersion: r.inst.Version(),
		Kind: r.def.Kind, Station: r.def.Station, DLQ: r.def.DLQ,
		State: r.state, Restarts: r.restarts, LastError: r.lastErr, LastErrorAt: r.lastErrAt, StartedAt: r.startedAt,
	}
	base := r.runBase
	r.mu.Unlock()
	if r.def.Version != "" {
		st.Connector += "@" + r.def.Version
	}
	st.Total = r.total.load()
	st.Run = st.Total.sub(base)
	st.RecordsIn, st.RecordsOut, st.Rejected = st.Run.RecordsIn, st.Run.RecordsOut, st.Run.Rejected
	st.Config = redact(r.def.Config, r.inst.Spec, r.def.Templates, "")
	switch r.def.Kind {
	case config.KindSink:
		if gi, err := r.h.b.Group(r.def.Station, GroupName(r.def.Name)); err == nil {
			st.Lag = gi.Lag
		}
	case config.KindSource:
		if cp, err := loadCheckpoint(r.h.store, r.def.Name); err == nil && cp.Position != nil {
			st.Checkpoint = positionText(cp.Position)
		}
	}
	return st
}

// redact copies cfg with the values of secret fields replaced.
func redact(cfg map[string]any, spec connector.Spec, templates map[string]string, prefix string) map[string]any {
	if cfg == nil {
		return nil
	}
	secret := map[string]bool{}
	for _, f := range spec.Fields {
		if f.Secret {
			secret[f.Name] = true
		}
	}
	out := make(map[string]any, len(cfg))
	for k, v := range cfg {
		path := prefix + k
		switch {
		case secret[path]:
			out[k] = "********"
		case templates[path] != "":
			// Resolved from variables the caller may not be able to read.
			out[k] = templates[path]
		case isMap(v):
			out[k] = redact(v.(map[string]any), spec, templates, path+".")
		default:
			out[k] = v
		}
	}
	return out
}

func isMap(v any) bool { _, ok := v.(map[string]any); return ok }

// positionText shows a source position: as is when it is text (most are
// JSON), else base64.
func positionText(p []byte) string {
	if utf8.Valid(p) {
		return string(p)
	}
	return base64.StdEncoding.EncodeToString(p)
}

// Headers the host sets on records it sends to a dead-letter station.
const (
	HeaderDLQReason    = broker.HeaderDLQReason
	HeaderDLQConnector = "junction-dlq-connector"
	HeaderDLQError     = "junction-dlq-error"
)

// deadLetter sends rejected records to the connector's dead-letter
// station, which the broker creates if missing.
func (r *runner) deadLetter(ctx context.Context, msgs []broker.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := r.h.b.DeadLetter(ctx, r.def.Station, r.def.DLQ, msgs); err != nil {
		return fmt.Errorf("dead-letter station %s: %w", r.def.DLQ, err)
	}
	r.total.rejected.Add(uint64(len(msgs)))
	return nil
}
