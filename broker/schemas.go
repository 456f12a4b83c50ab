package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/junctionhq/junction/broker/schema"
	"github.com/junctionhq/junction/broker/seglog"
)

// HeaderSchema is stamped on every message stored on a station with a
// schema: NAME@VERSION of the version it was validated against, so
// consumers and sinks know how to decode it. A producer's own header of
// that name is replaced.
const HeaderSchema = "junction-schema"

// Headers on a message dead-lettered because it failed its station's
// schema (besides HeaderDLQReason "schema" and HeaderDLQStation).
const (
	HeaderDLQError  = "junction-dlq-error"
	HeaderDLQSchema = "junction-dlq-schema"
)

// Dead-letter reasons.
const (
	DLQReasonMaxDeliveries = "max_deliveries"
	DLQReasonSchema        = "schema"
)

// Schema registry errors.
var (
	ErrSchemaNotFound     = errors.New("schema not found")
	ErrSchemaExists       = errors.New("schema already exists")
	ErrSchemaInUse        = errors.New("schema is attached to stations")
	ErrSchemaIncompatible = errors.New("schema version is incompatible")
	ErrSchemaViolation    = errors.New("message does not match the station's schema")
)

// IncompatibleSchemaError is a new schema version that breaks its
// schema's compatibility mode. It matches ErrSchemaIncompatible.
type IncompatibleSchemaError struct {
	Schema string
	Report *schema.Report
}

func (e *IncompatibleSchemaError) Error() string {
	return fmt.Sprintf("schema %q: new version is %s", e.Schema, e.Report)
}

// Is makes the error match ErrSchemaIncompatible.
func (e *IncompatibleSchemaError) Is(target error) bool { return target == ErrSchemaIncompatible }

// SchemaInUseError is a schema that cannot be deleted because stations
// use it. It matches ErrSchemaInUse.
type SchemaInUseError struct {
	Schema   string
	Stations []string
}

func (e *SchemaInUseError) Error() string {
	return fmt.Sprintf("schema %q is attached to station(s) %s; detach it first (junction station detach-schema STATION)", e.Schema, strings.Join(e.Stations, ", "))
}

// Is makes the error match ErrSchemaInUse.
func (e *SchemaInUseError) Is(target error) bool { return target == ErrSchemaInUse }

// InvalidMessage is a produced message that failed its station's schema.
type InvalidMessage struct {
	// Index is the message's index in its produce call.
	Index int
	// Path, Rule and Reason are those of the schema.ValidationError.
	Path, Rule, Reason string
}

// SchemaViolationError is a produce some of whose messages failed the
// station's schema under on-invalid reject: those were not stored, the
// others were. It matches ErrSchemaViolation.
type SchemaViolationError struct {
	Station string
	// Schema is NAME@VERSION.
	Schema  string
	Invalid []InvalidMessage
	// Results has one entry per message of the produce: where the valid
	// ones were stored, Rejected for the others.
	Results []ProduceResult
}

func (e *SchemaViolationError) Error() string {
	var b strings.Builder
	for i, m := range e.Invalid {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Invalid)-3)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		p := m.Path
		if p == "" {
			p = "/"
		}
		fmt.Fprintf(&b, "message %d at %s: %s: %s", m.Index, p, m.Rule, m.Reason)
	}
	stored := len(e.Results) - len(e.Invalid)
	return fmt.Sprintf("station %q: %d of %d message(s) do not match schema %s (the other %d were stored): %s",
		e.Station, len(e.Invalid), len(e.Results), e.Schema, stored, b.String())
}

// Is makes the error match ErrSchemaViolation.
func (e *SchemaViolationError) Is(target error) bool { return target == ErrSchemaViolation }

// OnInvalid is what a station does with a message that fails its schema.
type OnInvalid string

// On-invalid policies.
const (
	// OnInvalidReject fails the message back to its producer; nothing of
	// it is stored. The default.
	OnInvalidReject OnInvalid = "reject"
	// OnInvalidDeadLetter moves the message to the station's dead-letter
	// station with the validation error in its headers.
	OnInvalidDeadLetter OnInvalid = "dead-letter"
)

// StationSchema is the schema attached to a station.
type StationSchema struct {
	Name string `json:"name"`
	// Version pins a version; zero follows the latest.
	Version   uint32    `json:"version,omitempty"`
	OnInvalid OnInvalid `json:"on_invalid"`
}

// SchemaInfo describes a registered schema.
type SchemaInfo struct {
	Name          string
	Type          schema.Type
	Compatibility schema.Compatibility
	Versions      []uint32
	CreatedAt     time.Time
	// Stations the schema is attached to.
	Stations []string
}

// Latest is the newest version number.
func (s SchemaInfo) Latest() uint32 { return s.Versions[len(s.Versions)-1] }

// SchemaVersion is one stored version of a schema.
type SchemaVersion struct {
	Version   uint32        `json:"version"`
	Source    schema.Source `json:"source"`
	CreatedAt time.Time     `json:"created_at"`
}

type schemaRecord struct {
	Type          schema.Type          `json:"type"`
	Compatibility schema.Compatibility `json:"compatibility"`
	CreatedAt     time.Time            `json:"created_at"`
}

// registry is the broker's schema registry: every version of every
// schema, compiled on first use and then cached. Lock order: Broker.mu,
// then registry.mu.
type registry struct {
	load    sync.Once
	loadErr error

	mu       sync.RWMutex
	subjects map[string]*subject
}

type subject struct {
	name     string
	rec      schemaRecord
	versions []*compiledVersion // versions[i].v.Version == i+1
}

type compiledVersion struct {
	v      SchemaVersion
	header []byte // NAME@VERSION

	once sync.Once
	sch  *schema.Schema
	err  error
}

func (cv *compiledVersion) schema() (*schema.Schema, error) {
	cv.once.Do(func() { cv.sch, cv.err = schema.Compile(cv.v.Source) })
	return cv.sch, cv.err
}

func newRegistry() *registry {
	return &registry{subjects: make(map[string]*subject)}
}

// registry returns the loaded registry.
func (b *Broker) registry() (*registry, error) {
	r := b.schemas
	r.load.Do(func() {
		r.loadErr = b.meta.Schemas(func(name string, rec []byte, versions func(func(uint32, []byte) error) error) error {
			s := &subject{name: name}
			if err := json.Unmarshal(rec, &s.rec); err != nil {
				return fmt.Errorf("schema %s: decode metadata: %w", name, err)
			}
			err := versions(func(n uint32, v []byte) error {
				var sv SchemaVersion
				if err := json.Unmarshal(v, &sv); err != nil {
					return fmt.Errorf("schema %s version %d: decode metadata: %w", name, n, err)
				}
				if n != uint32(len(s.versions)+1) {
					return fmt.Errorf("schema %s: version %d follows version %d", name, n, len(s.versions))
				}
				s.versions = append(s.versions, newCompiledVersion(name, sv))
				return nil
			})
			if err != nil {
				return err
			}
			if len(s.versions) == 0 {
				return fmt.Errorf("schema %s: no versions stored", name)
			}
			r.subjects[name] = s
			return nil
		})
		if r.loadErr != nil {
			r.loadErr = fmt.Errorf("load schemas: %w", r.loadErr)
		}
	})
	return r, r.loadErr
}

func newCompiledVersion(name string, v SchemaVersion) *compiledVersion {
	return &compiledVersion{v: v, header: []byte(name + "@" + strconv.FormatUint(uint64(v.Version), 10))}
}

// resolve returns the version a station's attachment names.
func (r *registry) resolve(name string, version uint32) (*compiledVersion, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.subjects[name]
	if !ok {
		return nil, fmt.Errorf("schema %q: %w", name, ErrSchemaNotFound)
	}
	if version == 0 {
		return s.versions[len(s.versions)-1], nil
	}
	if int(version) > len(s.versions) {
		return nil, fmt.Errorf("schema %q has no version %d (latest is %d): %w", name, version, len(s.versions), ErrSchemaNotFound)
	}
	return s.versions[version-1], nil
}

// schemaInfo describes a schema. It takes registry.mu and Broker.mu one
// after the other, never nested, so the caller must hold neither.
func (b *Broker) schemaInfo(r *registry, s *subject) SchemaInfo {
	r.mu.RLock()
	info := SchemaInfo{Name: s.name, Type: s.rec.Type, Compatibility: s.rec.Compatibility, CreatedAt: s.rec.CreatedAt}
	for _, v := range s.versions {
		info.Versions = append(info.Versions, v.v.Version)
	}
	r.mu.RUnlock()
	for _, st := range b.stationList() {
		if a := st.config().Schema; a != nil && a.Name == s.name {
			info.Stations = append(info.Stations, st.name)
		}
	}
	return info
}

func compileDefinition(src schema.Source) (*schema.Schema, error) {
	sch, err := schema.Compile(src)
	if err != nil {
		return nil, fieldErr("definition", "%v", err)
	}
	return sch, nil
}

func defaultMode(t schema.Type, mode schema.Compatibility) (schema.Compatibility, error) {
	if mode == "" {
		if t == schema.GraphQL {
			return schema.CompatNone, nil
		}
		return schema.CompatBackward, nil
	}
	if _, err := schema.ParseCompatibility(string(mode)); err != nil {
		return "", fieldErr("compatibility", "%v", err)
	}
	if err := schema.CheckMode(t, mode); err != nil {
		return "", fieldErr("compatibility", "%v", err)
	}
	return mode, nil
}

// CreateSchema registers a schema named name with src as its version 1,
// under compatibility mode (default backward; none for GraphQL).
func (b *Broker) CreateSchema(ctx context.Context, name string, src schema.Source, mode schema.Compatibility) (SchemaInfo, SchemaVersion, error) {
	if err := validateName("name", name); err != nil {
		return SchemaInfo{}, SchemaVersion{}, err
	}
	if _, err := compileDefinition(src); err != nil {
		return SchemaInfo{}, SchemaVersion{}, err
	}
	mode, err := defaultMode(src.Type, mode)
	if err != nil {
		return SchemaInfo{}, SchemaVersion{}, err
	}
	r, err := b.registry()
	if err != nil {
		return SchemaInfo{}, SchemaVersion{}, err
	}
	now := time.Now().UTC()
	v := SchemaVersion{Version: 1, Source: src, CreatedAt: now}
	r.mu.RLock()
	_, exists := r.subjects[name]
	r.mu.RUnlock()
	if exists {
		return SchemaInfo{}, SchemaVersion{}, fmt.Errorf("schema %q: %w", name, ErrSchemaExists)
	}
	c := SchemaChange{Op: OpCreateSchema, Name: name, Type: src.Type, Compatibility: mode, CreatedAt: now, Versions: []SchemaVersion{v}}
	if err := b.changeSchema(ctx, c); err != nil {
		return SchemaInfo{}, SchemaVersion{}, err
	}
	b.log.Info("schema created", "schema", name, "type", src.Type, "compatibility", mode)
	return SchemaInfo{Name: name, Type: src.Type, Compatibility: mode, Versions: []uint32{1}, CreatedAt: now}, v, nil
}

func (b *Broker) putSchemaVersion(s *subject, v SchemaVersion) error {
	rec, err := json.Marshal(s.rec)
	if err != nil {
		return err
	}
	val, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := b.meta.PutSchemaVersion(s.name, rec, v.Version, val); err != nil {
		return fmt.Errorf("schema %q: store metadata: %w", s.name, err)
	}
	return nil
}

// UpdateSchema adds src as a new version of a schema after checking it
// against the earlier versions under the schema's compatibility mode (or
// mode, when set, which then becomes the schema's mode). An incompatible
// version fails with an *IncompatibleSchemaError listing every breaking
// change, and nothing changes.
func (b *Broker) UpdateSchema(ctx context.Context, name string, src schema.Source, mode schema.Compatibility) (SchemaInfo, SchemaVersion, error) {
	next, err := compileDefinition(src)
	if err != nil {
		return SchemaInfo{}, SchemaVersion{}, err
	}
	r, err := b.registry()
	if err != nil {
		return SchemaInfo{}, SchemaVersion{}, err
	}
	// Check against a snapshot of the versions, without holding the lock
	// that every produce takes; a version added meanwhile fails the
	// update rather than escape the check.
	r.mu.RLock()
	s, ok := r.subjects[name]
	var (
		versions []*compiledVersion
		rec      schemaRecord
	)
	if ok {
		versions, rec = slices.Clone(s.versions), s.rec
	}
	r.mu.RUnlock()
	if !ok {
		return SchemaInfo{}, SchemaVersion{}, fmt.Errorf("schema %q: %w", name, ErrSchemaNotFound)
	}
	if mode == "" {
		mode = rec.Compatibility
	}
	if mode, err = defaultMode(src.Type, mode); err != nil {
		return SchemaInfo{}, SchemaVersion{}, err
	}
	earlier := make([]schema.Version, 0, len(versions))
	for _, cv := range versions {
		sch, err := cv.schema()
		if err != nil {
			return SchemaInfo{}, SchemaVersion{}, fmt.Errorf("schema %q version %d no longer compiles: %w", name, cv.v.Version, err)
		}
		earlier = append(earlier, schema.Version{Number: int(cv.v.Version), Schema: sch})
	}
	report, err := schema.CheckCompatibility(mode, next, earlier)
	if err != nil {
		return SchemaInfo{}, SchemaVersion{}, fieldErr("compatibility", "%v", err)
	}
	if !report.Compatible() {
		return SchemaInfo{}, SchemaVersion{}, &IncompatibleSchemaError{Schema: name, Report: report}
	}
	v := SchemaVersion{Version: uint32(len(versions) + 1), Source: src, CreatedAt: time.Now().UTC()}
	c := SchemaChange{Op: OpAddSchemaVersion, Name: name, Type: src.Type, Compatibility: mode, CreatedAt: rec.CreatedAt, Versions: []SchemaVersion{v}}
	if err := b.changeSchema(ctx, c); err != nil {
		return SchemaInfo{}, SchemaVersion{}, err
	}
	// The new version is compiled already: spare the first produce that.
	r.mu.RLock()
	if int(v.Version) <= len(s.versions) {
		if cv := s.versions[v.Version-1]; cv.v.CreatedAt.Equal(v.CreatedAt) {
			cv.once.Do(func() { cv.sch = next })
		}
	}
	r.mu.RUnlock()
	b.log.Info("schema version added", "schema", name, "version", v.Version)
	return b.schemaInfo(r, s), v, nil
}

// Schema returns a schema and one version of it (the latest for version
// zero).
func (b *Broker) Schema(ctx context.Context, name string, version uint32) (SchemaInfo, SchemaVersion, error) {
	r, err := b.registry()
	if err != nil {
		return SchemaInfo{}, SchemaVersion{}, err
	}
	cv, err := r.resolve(name, version)
	if err != nil {
		return SchemaInfo{}, SchemaVersion{}, err
	}
	r.mu.RLock()
	s := r.subjects[name]
	r.mu.RUnlock()
	return b.schemaInfo(r, s), cv.v, nil
}

// Schemas lists every schema by name.
func (b *Broker) Schemas(ctx context.Context) ([]SchemaInfo, error) {
	r, err := b.registry()
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	subs := make([]*subject, 0, len(r.subjects))
	for _, s := range r.subjects {
		subs = append(subs, s)
	}
	r.mu.RUnlock()
	slices.SortFunc(subs, func(a, b *subject) int { return strings.Compare(a.name, b.name) })
	out := make([]SchemaInfo, len(subs))
	for i, s := range subs {
		out[i] = b.schemaInfo(r, s)
	}
	return out, nil
}

// DeleteSchema deletes a schema and its versions. It fails with a
// *SchemaInUseError while a station has it attached.
func (b *Broker) DeleteSchema(ctx context.Context, name string) error {
	return b.changeSchema(ctx, SchemaChange{Op: OpDeleteSchema, Name: name})
}

func (b *Broker) deleteSchemaLocal(r *registry, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var users []string
	for _, st := range b.stations {
		if a := st.config().Schema; a != nil && a.Name == name {
			users = append(users, st.name)
		}
	}
	if len(users) > 0 {
		slices.Sort(users)
		return &SchemaInUseError{Schema: name, Stations: users}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.subjects[name]; !ok {
		return fmt.Errorf("schema %q: %w", name, ErrSchemaNotFound)
	}
	if err := b.meta.DeleteSchema(name); err != nil {
		return fmt.Errorf("schema %q: delete metadata: %w", name, err)
	}
	delete(r.subjects, name)
	b.log.Info("schema deleted", "schema", name)
	return nil
}

// AttachSchema makes a station validate every produced message against
// a.Name at a.Version (zero: the latest at each produce). On-invalid
// dead-letter needs the station to have a dead-letter station.
func (b *Broker) AttachSchema(ctx context.Context, stationName string, a StationSchema) (StationConfig, error) {
	if a.OnInvalid == "" {
		a.OnInvalid = OnInvalidReject
	}
	if a.OnInvalid != OnInvalidReject && a.OnInvalid != OnInvalidDeadLetter {
		return StationConfig{}, fieldErr("on_invalid", "must be reject or dead-letter, got %q", a.OnInvalid)
	}
	if r := b.opts.Replicator; r != nil {
		return r.ReplicateStation(ctx, StationChange{Op: OpAttachSchema, Name: stationName, Schema: &a})
	}
	return b.attachSchemaLocal(stationName, a)
}

func (b *Broker) attachSchemaLocal(stationName string, a StationSchema) (StationConfig, error) {
	r, err := b.registry()
	if err != nil {
		return StationConfig{}, err
	}
	st, err := b.station(stationName)
	if err != nil {
		return StationConfig{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := r.resolve(a.Name, a.Version); err != nil {
		return StationConfig{}, err
	}
	cfg := st.config()
	if a.OnInvalid == OnInvalidDeadLetter && cfg.DeadLetterStation == "" {
		return StationConfig{}, fieldErr("on_invalid", "station %q has no dead-letter station; set one first (junction station update %s --dlq NAME)", stationName, stationName)
	}
	cfg.Schema = &a
	if err := b.putStation(cfg); err != nil {
		return StationConfig{}, err
	}
	st.setConfig(cfg)
	b.log.Info("schema attached", "station", stationName, "schema", a.Name, "version", a.Version, "on_invalid", a.OnInvalid)
	return cfg, nil
}

// DetachSchema stops a station validating produced messages.
func (b *Broker) DetachSchema(ctx context.Context, stationName string) (StationConfig, error) {
	if r := b.opts.Replicator; r != nil {
		return r.ReplicateStation(ctx, StationChange{Op: OpDetachSchema, Name: stationName})
	}
	return b.detachSchemaLocal(stationName)
}

func (b *Broker) detachSchemaLocal(stationName string) (StationConfig, error) {
	st, err := b.station(stationName)
	if err != nil {
		return StationConfig{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cfg := st.config()
	if cfg.Schema == nil {
		return cfg, nil
	}
	cfg.Schema = nil
	if err := b.putStation(cfg); err != nil {
		return StationConfig{}, err
	}
	st.setConfig(cfg)
	b.log.Info("schema detached", "station", stationName)
	return cfg, nil
}

// schemaOutcome is the part of a produce on a station with a schema that
// PendingProduce.Wait completes: the valid messages queued on the
// station, the invalid ones queued on the dead-letter station or
// rejected.
type schemaOutcome struct {
	total   int
	valid   *PendingProduce
	validIx []int
	dead    *PendingProduce
	deadIx  []int
	invalid []InvalidMessage // rejected
	schema  string
}

// produceValidated validates msgs against the station's schema, stamps
// the valid ones with HeaderSchema and queues them; the invalid ones are
// rejected or queued on the dead-letter station, per the station.
func (st *station) produceValidated(ctx context.Context, cfg StationConfig, msgs []Message) (*PendingProduce, error) {
	if len(msgs) == 0 {
		return nil, fieldErr("messages", "at least one message is required")
	}
	r, err := st.b.registry()
	if err != nil {
		return nil, err
	}
	cv, err := r.resolve(cfg.Schema.Name, cfg.Schema.Version)
	if err != nil {
		return nil, fmt.Errorf("station %q: %w", st.name, err)
	}
	sch, err := cv.schema()
	if err != nil {
		return nil, fmt.Errorf("station %q: schema %s does not compile: %w", st.name, cv.header, err)
	}
	deadLetter := cfg.Schema.OnInvalid == OnInvalidDeadLetter && cfg.DeadLetterStation != ""
	out := schemaOutcome{total: len(msgs)}
	var deadErrs []error
	valid, nHeaders := 0, 0
	for i := range msgs {
		verr := sch.Validate(msgs[i].Value)
		if verr == nil {
			// validIx is built only once a message is invalid: the
			// common all-valid produce allocates nothing for it.
			if out.validIx != nil {
				out.validIx = append(out.validIx, i)
			}
			valid++
			nHeaders += len(msgs[i].Headers) + 1
			continue
		}
		if out.validIx == nil {
			out.validIx = make([]int, i, len(msgs))
			for k := range i {
				out.validIx[k] = k
			}
		}
		if deadLetter {
			out.deadIx = append(out.deadIx, i)
			deadErrs = append(deadErrs, verr)
			continue
		}
		var ve *schema.ValidationError
		if !errors.As(verr, &ve) {
			ve = &schema.ValidationError{Rule: "schema", Reason: verr.Error()}
		}
		out.invalid = append(out.invalid, InvalidMessage{Index: i, Path: ve.Path, Rule: ve.Rule, Reason: ve.Reason})
	}
	if valid == len(msgs) {
		// The common case: the caller's slice, restamped.
		return st.enqueue(ctx, stamp(msgs, nil, cv.header, nHeaders))
	}
	if len(out.validIx) > 0 {
		if out.valid, err = st.enqueue(ctx, stamp(msgs, out.validIx, cv.header, nHeaders)); err != nil {
			return nil, err
		}
	}
	if len(out.deadIx) > 0 {
		dead := make([]Message, len(out.deadIx))
		for j, i := range out.deadIx {
			m := msgs[i]
			hs := make([]seglog.Header, 0, len(m.Headers)+4)
			for _, h := range m.Headers {
				if h.Key != HeaderSchema {
					hs = append(hs, h)
				}
			}
			hs = append(hs,
				Header{Key: HeaderDLQReason, Value: []byte(DLQReasonSchema)},
				Header{Key: HeaderDLQStation, Value: []byte(st.name)},
				Header{Key: HeaderDLQSchema, Value: cv.header},
				Header{Key: HeaderDLQError, Value: []byte(deadErrs[j].Error())},
			)
			dead[j] = Message{Key: m.Key, Value: m.Value, Headers: hs}
		}
		out.dead, err = st.b.ProduceAsync(ctx, cfg.DeadLetterStation, dead)
		if errors.Is(err, ErrStationNotFound) {
			if err = st.b.createDeadLetterStation(ctx, st, cfg.DeadLetterStation); err == nil {
				out.dead, err = st.b.ProduceAsync(ctx, cfg.DeadLetterStation, dead)
			}
		}
		st.setDeadLetterError(err, cfg.DeadLetterStation)
		if err != nil {
			if out.valid != nil {
				out.valid.Wait()
			}
			return nil, fmt.Errorf("station %q: dead-letter invalid messages to %q: %w", st.name, cfg.DeadLetterStation, err)
		}
	}
	// Copied so that out stays on the stack in the all-valid case.
	o := out
	o.schema = string(cv.header)
	return &PendingProduce{st: st, schema: &o}, nil
}

// stamp returns the messages of msgs at idx (all when idx is nil) with
// header NAME@VERSION replacing any HeaderSchema of their own; the
// headers share one allocation.
func stamp(msgs []Message, idx []int, header []byte, nHeaders int) []Message {
	n := len(msgs)
	if idx != nil {
		n = len(idx)
	}
	out := make([]Message, n)
	hs := make([]seglog.Header, 0, nHeaders)
	for j := range n {
		i := j
		if idx != nil {
			i = idx[j]
		}
		m := msgs[i]
		start := len(hs)
		for _, h := range m.Headers {
			if h.Key != HeaderSchema {
				hs = append(hs, h)
			}
		}
		hs = append(hs, Header{Key: HeaderSchema, Value: header})
		m.Headers = hs[start:len(hs):len(hs)]
		out[j] = m
	}
	return out
}

// wait completes a produce on a station with a schema: results for every
// message, and a *SchemaViolationError when some were rejected.
func (o *schemaOutcome) wait(st *station) ([]ProduceResult, error) {
	results := make([]ProduceResult, o.total)
	var errs []error
	if o.valid != nil {
		rs, err := o.valid.Wait()
		if err != nil {
			errs = append(errs, err)
		}
		for j, i := range o.validIx {
			if j < len(rs) {
				results[i] = rs[j]
			}
		}
	}
	if o.dead != nil {
		rs, err := o.dead.Wait()
		if err != nil {
			errs = append(errs, err)
		}
		for j, i := range o.deadIx {
			if j < len(rs) {
				results[i] = rs[j]
				results[i].DeadLettered = true
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(o.invalid) == 0 {
		return results, nil
	}
	for _, m := range o.invalid {
		results[m.Index] = ProduceResult{Rejected: true}
	}
	return results, &SchemaViolationError{Station: st.name, Schema: o.schema, Invalid: o.invalid, Results: results}
}

// StationSchema returns the schema attached to a station and the version
// it resolves to now (the latest, unless pinned); nil and nil when the
// station has none.
func (b *Broker) StationSchema(ctx context.Context, station string) (*StationSchema, *SchemaVersion, error) {
	st, err := b.station(station)
	if err != nil {
		return nil, nil, err
	}
	a := st.config().Schema
	if a == nil {
		return nil, nil, nil
	}
	r, err := b.registry()
	if err != nil {
		return nil, nil, err
	}
	cv, err := r.resolve(a.Name, a.Version)
	if err != nil {
		return nil, nil, fmt.Errorf("station %q: %w", station, err)
	}
	att, v := *a, cv.v
	return &att, &v, nil
}
