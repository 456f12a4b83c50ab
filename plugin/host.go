package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/internal/keylock"
	"github.com/junctionhq/junction/plugin/config"
	"github.com/junctionhq/junction/sdk/connector"
)

// Errors callers branch on.
var (
	ErrConnectorNotFound = errors.New("connector not found")
	// ErrInvalidDefinition is matched by *DefinitionError.
	ErrInvalidDefinition = errors.New("invalid connector definition")
)

// DefinitionError lists every problem of a definition: YAML, structure and
// the plugin's field errors, each located by file, line and field.
type DefinitionError struct {
	Problems config.Errors
}

func (e *DefinitionError) Error() string {
	return "invalid connector definition:\n" + e.Problems.Error()
}

// Is makes a DefinitionError match ErrInvalidDefinition.
func (e *DefinitionError) Is(target error) bool { return target == ErrInvalidDefinition }

// Options configures a Host.
type Options struct {
	// Broker is the broker the connectors move records to and from.
	// Required.
	Broker Broker
	// Store keeps connector definitions and source checkpoints. Required.
	Store Store
	// PluginDirs are searched for plugin binaries, in order.
	PluginDirs []string
	// Logger receives the host's and the plugins' logs. Default
	// slog.Default().
	Logger *slog.Logger
	// Restart is the restart policy for crashed or failing plugins.
	Restart RestartPolicy
	// LookupEnv resolves ${VAR} in definitions. Default os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// EnvWhere names what LookupEnv reads, for the error about an unset
	// variable. Default "the broker's environment".
	EnvWhere string
	// PathRoots are the directories connectors may use: a config field
	// the plugin's spec marks as a path must resolve (symbolic links
	// followed) inside one of them. Nil allows any path.
	PathRoots []string
	// Authorize, when set, is asked before a definition from a caller is
	// validated or applied (and so before its plugin starts), with the
	// parsed definition; its error refuses the definition.
	Authorize func(ctx context.Context, def *config.Connector) error
	// Placement, when set, says whether this host runs a connector now
	// (in a cluster, only one node runs each); one it does not run is
	// kept in StateStandby. Call Reconcile when its answers may have
	// changed. Nil runs every connector.
	Placement func(def *config.Connector) bool
}

// RestartPolicy says how a failing connector is restarted: after Initial,
// doubling up to Max, until MaxFailures failures happen within Window,
// when it is marked failed.
type RestartPolicy struct {
	Initial, Max time.Duration
	MaxFailures  int
	Window       time.Duration
}

// DefaultRestartPolicy is used for zero fields of Options.Restart.
var DefaultRestartPolicy = RestartPolicy{Initial: 500 * time.Millisecond, Max: 30 * time.Second, MaxFailures: 10, Window: 5 * time.Minute}

// Host runs connectors. It is safe for concurrent use.
type Host struct {
	b        Broker
	store    Store
	registry *Registry
	log      *slog.Logger
	policy   RestartPolicy
	env      config.Env
	roots    []string
	authz    func(ctx context.Context, def *config.Connector) error
	place    func(def *config.Connector) bool

	// ops serialises changes to one connector (apply, pause, resume,
	// delete), which may wait for a plugin to shut down; mu guards only
	// the map and is never held across plugin calls or disk I/O. Lock
	// order: ops, then mu, then runner.mu.
	ops     keylock.Map
	mu      sync.Mutex
	runners map[string]*runner
	closed  bool
}

// record is what the metadata store keeps per connector: the definition as
// written (secrets stay ${VAR} references) and whether it is paused.
type record struct {
	File       string `json:"file"`
	Definition []byte `json:"definition"`
	Paused     bool   `json:"paused,omitempty"`
}

// New starts a host and every connector stored in the broker's metadata.
// A stored connector that no longer resolves is kept, in the failed state.
func New(ctx context.Context, opts Options) (*Host, error) {
	if opts.Broker == nil || opts.Store == nil {
		return nil, errors.New("plugin host: Options.Broker and Options.Store are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.EnvWhere == "" {
		opts.EnvWhere = "the broker's environment"
	}
	p := &opts.Restart
	d := DefaultRestartPolicy
	if p.Initial <= 0 {
		p.Initial = d.Initial
	}
	if p.Max <= 0 {
		p.Max = d.Max
	}
	if p.MaxFailures <= 0 {
		p.MaxFailures = d.MaxFailures
	}
	if p.Window <= 0 {
		p.Window = d.Window
	}
	h := &Host{
		b:        opts.Broker,
		store:    opts.Store,
		registry: NewRegistry(opts.PluginDirs, opts.Logger),
		log:      opts.Logger,
		policy:   opts.Restart,
		env:      config.Env{Lookup: opts.LookupEnv, Where: opts.EnvWhere},
		roots:    opts.PathRoots,
		authz:    opts.Authorize,
		place:    opts.Placement,
		runners:  make(map[string]*runner),
	}
	var recs []record
	err := h.store.Connectors(func(name string, v []byte) error {
		var r record
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("connector %s: decode stored definition: %w", name, err)
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		// Its config was validated when it was applied; the runner's own
		// Configure reports it if the plugin changed since, so start-up
		// launches each plugin once, not twice.
		def, inst, err := h.prepare(ctx, r.File, r.Definition, false)
		if err != nil {
			h.log.Error("stored connector cannot start", "file", r.File, "err", err)
			if def != nil {
				run := newRunner(h, def, inst, r)
				run.fail(err)
				h.runners[def.Name] = run
			}
			continue
		}
		run := newRunner(h, def, inst, r)
		h.runners[def.Name] = run
		if !r.Paused {
			h.startHere(run)
		}
	}
	return h, nil
}

// Registry is the host's plugin registry.
func (h *Host) Registry() *Registry { return h.registry }

// LoadDir applies every *.yaml and *.yml definition in dir, in name order,
// and returns the problems of those that failed, joined.
func (h *Host) LoadDir(ctx context.Context, dir string) error {
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return err
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("connectors directory: %w", err)
		}
	}
	slices.Sort(files)
	var errs []error
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st, created, changed, err := h.Apply(ctx, f, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		h.log.Info("connector loaded", "connector", st.Name, "file", f, "created", created, "changed", changed)
	}
	return errors.Join(errs...)
}

// prepare parses and checks a definition, resolving its plugin and, with
// configure, validating its config with the plugin. It returns the parsed
// definition even when a later check failed, so the caller can name it.
func (h *Host) prepare(ctx context.Context, file string, data []byte, configure bool) (*config.Connector, Installed, error) {
	def, err := config.ParseEnv(file, data, h.env)
	if err != nil {
		var es config.Errors
		if errors.As(err, &es) {
			return nil, Installed{}, &DefinitionError{Problems: es}
		}
		return nil, Installed{}, err
	}
	if h.authz != nil {
		if err := h.authz(ctx, def); err != nil {
			return def, Installed{}, err
		}
	}
	inst, problems, err := check(ctx, h.registry, def, h.b, configure, h.roots)
	if err != nil {
		return def, inst, err
	}
	if len(problems) > 0 {
		return def, inst, &DefinitionError{Problems: problems}
	}
	return def, inst, nil
}

// check resolves def's plugin and validates def against it (running the
// plugin's Configure when configure is set) and, when b is not nil,
// against the broker (the station must exist).
func check(ctx context.Context, reg *Registry, def *config.Connector, b Broker, configure bool, roots []string) (Installed, config.Errors, error) {
	var problems config.Errors
	at := func(field, format string, args ...any) {
		problems = append(problems, def.At(field, fmt.Sprintf(format, args...)))
	}
	if b != nil {
		if _, _, err := b.Station(def.Station); err != nil {
			at("station", "station %q does not exist; create it first (junction station create %s)", def.Station, def.Station)
		}
	}
	inst, err := reg.Resolve(ctx, def.Plugin, def.Version)
	if err != nil {
		at("connector", "%v", err)
		return inst, problems, nil
	}
	if !slices.Contains(inst.Spec.Kinds, connector.Kind(def.Kind)) {
		at("kind", "plugin %s@%s has no %s (it offers: %s)", inst.Name(), inst.Version(), def.Kind, kindsText(inst.Spec.Kinds))
		return inst, problems, nil
	}
	if ep := envProblems(def, inst.Spec); len(ep) > 0 {
		return inst, append(problems, ep...), nil
	}
	if pp := pathProblems(def, inst.Spec, roots); len(pp) > 0 {
		return inst, append(problems, pp...), nil
	}
	if !configure {
		return inst, problems, nil
	}
	p, err := launch(inst, def.Env, 0, slog.New(slog.DiscardHandler))
	if err != nil {
		return inst, problems, err
	}
	defer p.stop()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	fes, err := p.conn.Configure(ctx, connector.Kind(def.Kind), def.Station, def.Name, def.Config)
	if err != nil {
		return inst, problems, fmt.Errorf("plugin %s: configure: %w", inst.Name(), err)
	}
	for _, fe := range fes {
		field := "config"
		if fe.Field != "" {
			field = "config." + fe.Field
		}
		problems = append(problems, def.At(field, fe.Message))
	}
	return inst, problems, nil
}

func kindsText(ks []connector.Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// Validate checks a definition without applying it: the YAML, the plugin
// and its config. lookupEnv resolves ${VAR}; b, when not nil, is asked
// whether the station exists. It returns the problems found and the
// resolved plugin; err is for failures to check at all.
func Validate(ctx context.Context, reg *Registry, file string, data []byte, lookupEnv func(string) (string, bool), b Broker) (config.Errors, Installed, error) {
	return ValidateEnv(ctx, reg, file, data, config.Env{Lookup: lookupEnv}, b)
}

// ValidateEnv is Validate with variables resolved in env.
func ValidateEnv(ctx context.Context, reg *Registry, file string, data []byte, env config.Env, b Broker) (config.Errors, Installed, error) {
	def, err := config.ParseEnv(file, data, env)
	if err != nil {
		var es config.Errors
		if errors.As(err, &es) {
			return es, Installed{}, nil
		}
		return nil, Installed{}, err
	}
	inst, problems, err := check(ctx, reg, def, b, true, nil)
	return problems, inst, err
}

// Validate checks a definition against this host's plugins, broker,
// environment and path roots, exactly as Apply would.
func (h *Host) Validate(ctx context.Context, file string, data []byte) (config.Errors, Installed, error) {
	_, inst, err := h.prepare(ctx, file, data, true)
	var de *DefinitionError
	if errors.As(err, &de) {
		return de.Problems, inst, nil
	}
	return nil, inst, err
}

// Apply creates the connector a definition declares, or updates the one
// of that name in place: only that connector restarts, and only when the
// definition changed (or it had failed).
func (h *Host) Apply(ctx context.Context, file string, data []byte) (st Status, created, changed bool, err error) {
	def, inst, err := h.prepare(ctx, file, data, true)
	if err != nil {
		h.log.Warn("connector definition rejected", "file", file, "err", err)
		return Status{}, false, false, err
	}
	defer h.ops.Lock(def.Name)()
	old, err := h.runner(def.Name)
	if errors.Is(err, broker.ErrClosed) {
		return Status{}, false, false, err
	}
	if old != nil && bytes.Equal(old.rec.Definition, data) && old.status().State != StateFailed {
		return old.status(), false, false, nil
	}
	rec := record{File: file, Definition: data}
	if old != nil {
		rec.Paused = old.rec.Paused
	}
	if err := h.putRecord(def.Name, rec); err != nil {
		return Status{}, false, false, err
	}
	run := newRunner(h, def, inst, rec)
	if old != nil {
		old.stop()
		run.restarts = old.status().Restarts
		run.total.set(old.total.load())
		run.runBase = run.total.load()
	}
	if err := h.install(run); err != nil {
		return Status{}, false, false, err
	}
	h.log.Info("connector applied", "connector", def.Name, "plugin", inst.Name()+"@"+inst.Version(), "kind", def.Kind, "station", def.Station)
	return run.status(), old == nil, true, nil
}

// install puts run in the map (replacing any runner of its name) and
// starts it unless it is paused. It fails once the host is closing.
func (h *Host) install(run *runner) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return broker.ErrClosed
	}
	h.runners[run.def.Name] = run
	if !run.rec.Paused {
		h.startHere(run)
	}
	return nil
}

func (h *Host) putRecord(name string, rec record) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := h.store.PutConnector(name, v); err != nil {
		return fmt.Errorf("connector %s: store definition: %w", name, err)
	}
	return nil
}

func (h *Host) runner(name string) (*runner, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, broker.ErrClosed
	}
	r, ok := h.runners[name]
	if !ok {
		return nil, fmt.Errorf("connector %q: %w", name, ErrConnectorNotFound)
	}
	return r, nil
}

// Status returns a connector's status.
func (h *Host) Status(name string) (Status, error) {
	r, err := h.runner(name)
	if err != nil {
		return Status{}, err
	}
	return r.status(), nil
}

// List returns every connector's status, by name.
func (h *Host) List() []Status {
	h.mu.Lock()
	rs := make([]*runner, 0, len(h.runners))
	for _, r := range h.runners {
		rs = append(rs, r)
	}
	h.mu.Unlock()
	out := make([]Status, len(rs))
	for i, r := range rs {
		out[i] = r.status()
	}
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Pause stops a connector (gracefully, after its current batch) and keeps
// it stopped across restarts until Resume.
func (h *Host) Pause(name string) (Status, error) {
	return h.setPaused(name, true)
}

// Resume restarts a paused or failed connector.
func (h *Host) Resume(name string) (Status, error) {
	return h.setPaused(name, false)
}

func (h *Host) setPaused(name string, paused bool) (Status, error) {
	defer h.ops.Lock(name)()
	r, err := h.runner(name)
	if err != nil {
		return Status{}, err
	}
	rec := r.rec
	rec.Paused = paused
	if err := h.putRecord(name, rec); err != nil {
		return Status{}, err
	}
	r.stop()
	run := newRunner(h, r.def, r.inst, rec)
	run.restarts = r.status().Restarts
	if err := h.install(run); err != nil {
		return Status{}, err
	}
	return run.status(), nil
}

// Delete stops a connector and forgets it with its checkpoint; a sink's
// consumer group is deleted too.
func (h *Host) Delete(ctx context.Context, name string) error {
	defer h.ops.Lock(name)()
	r, err := h.runner(name)
	if err != nil {
		return err
	}
	r.stop()
	if err := h.store.DeleteConnector(name); err != nil {
		return fmt.Errorf("connector %s: delete definition: %w", name, err)
	}
	h.mu.Lock()
	delete(h.runners, name)
	h.mu.Unlock()
	if r.def.Kind == config.KindSink {
		if err := h.b.DeleteGroup(ctx, r.def.Station, GroupName(name)); err != nil && !errors.Is(err, broker.ErrGroupNotFound) && !errors.Is(err, broker.ErrStationNotFound) {
			return err
		}
	}
	h.log.Info("connector deleted", "connector", name)
	return nil
}

// Plugins lists the installed plugins.
func (h *Host) Plugins(ctx context.Context) []Installed { return h.registry.List(ctx) }

// Close stops every connector, letting each finish its current batch.
func (h *Host) Close() error {
	h.mu.Lock()
	h.closed = true
	rs := make([]*runner, 0, len(h.runners))
	for _, r := range h.runners {
		rs = append(rs, r)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() { defer wg.Done(); r.stop() }()
	}
	wg.Wait()
	return nil
}

// GroupName is the consumer group a sink connector reads its station with.
func GroupName(connector string) string { return "connector." + connector }
