package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// Schema registry errors; the broker's errors match them with errors.Is.
var (
	// ErrSchemaNotFound: no schema (or version) has the name.
	ErrSchemaNotFound = errors.New("schema not found")
	// ErrSchemaExists: a schema of that name already exists.
	ErrSchemaExists = errors.New("schema already exists")
	// ErrSchemaInUse: the schema is attached to stations ([Error.Stations]).
	ErrSchemaInUse = errors.New("schema is attached to stations")
	// ErrSchemaIncompatible: a new version breaks the schema's
	// compatibility mode; [Error.Incompatibilities] lists every change.
	ErrSchemaIncompatible = errors.New("schema version is incompatible")
	// ErrSchemaViolation: messages do not match their station's schema;
	// [Error.Invalid] says which and why.
	ErrSchemaViolation = errors.New("message does not match the station's schema")
)

// SchemaType is a schema language.
type SchemaType string

// Schema types.
const (
	SchemaJSON     SchemaType = "json"
	SchemaAvro     SchemaType = "avro"
	SchemaProtobuf SchemaType = "protobuf"
	SchemaGraphQL  SchemaType = "graphql"
)

// Compatibility is a schema's compatibility mode, as in the Confluent
// Schema Registry: none, backward, backward_transitive, forward,
// forward_transitive, full, full_transitive. Empty means the broker
// default (backward; none for GraphQL).
type Compatibility string

// OnInvalid is what a station does with a message that fails its schema:
// "reject" (the default) or "dead-letter".
type OnInvalid string

// On-invalid policies.
const (
	OnInvalidReject     OnInvalid = "reject"
	OnInvalidDeadLetter OnInvalid = "dead-letter"
)

// SchemaFile is one file of a schema definition.
type SchemaFile struct {
	Name    string `json:"name"`
	Content []byte `json:"content"`
}

// SchemaDefinition is the text of one schema version.
type SchemaDefinition struct {
	Type SchemaType `json:"type"`
	// Files: one for JSON Schema, Avro and GraphQL; for Protobuf the .proto
	// files (named by import path) or one binary FileDescriptorSet.
	Files []SchemaFile `json:"files"`
	// Message is the Protobuf message payloads encode, such as shop.v1.Order.
	Message string `json:"message,omitempty"`
}

// Schema describes a registered schema.
type Schema struct {
	Name          string        `json:"name"`
	Type          SchemaType    `json:"type"`
	Compatibility Compatibility `json:"compatibility"`
	LatestVersion int           `json:"latest_version"`
	Versions      []int         `json:"versions"`
	// Stations the schema is attached to.
	Stations  []string  `json:"stations"`
	CreatedAt time.Time `json:"created_at"`
}

// SchemaVersion is one stored version of a schema.
type SchemaVersion struct {
	Version    int              `json:"version"`
	Definition SchemaDefinition `json:"definition"`
	CreatedAt  time.Time        `json:"created_at"`
}

// StationSchema is the schema attached to a station.
type StationSchema struct {
	Name string `json:"name"`
	// Version is the pinned version; zero follows the latest.
	Version   int       `json:"version,omitempty"`
	OnInvalid OnInvalid `json:"on_invalid"`
}

// InvalidMessage is a produced message that failed its station's schema.
type InvalidMessage struct {
	// Index is the message's index in its produce call (or batch).
	Index int    `json:"index"`
	Path  string `json:"path"`
	Rule  string `json:"rule"`
	// Reason says what is wrong.
	Reason string `json:"reason"`
}

// CompatibilityChange is one breaking change of a refused schema version.
type CompatibilityChange struct {
	Version   int    `json:"version"`
	Direction string `json:"direction"`
	Path      string `json:"path"`
	Reason    string `json:"reason"`
}

var schemaTypes = map[SchemaType]junctionv1.SchemaType{
	SchemaJSON:     junctionv1.SchemaType_SCHEMA_TYPE_JSON,
	SchemaAvro:     junctionv1.SchemaType_SCHEMA_TYPE_AVRO,
	SchemaProtobuf: junctionv1.SchemaType_SCHEMA_TYPE_PROTOBUF,
	SchemaGraphQL:  junctionv1.SchemaType_SCHEMA_TYPE_GRAPHQL,
}

var compatModes = map[Compatibility]junctionv1.Compatibility{
	"none":                junctionv1.Compatibility_COMPATIBILITY_NONE,
	"backward":            junctionv1.Compatibility_COMPATIBILITY_BACKWARD,
	"backward_transitive": junctionv1.Compatibility_COMPATIBILITY_BACKWARD_TRANSITIVE,
	"forward":             junctionv1.Compatibility_COMPATIBILITY_FORWARD,
	"forward_transitive":  junctionv1.Compatibility_COMPATIBILITY_FORWARD_TRANSITIVE,
	"full":                junctionv1.Compatibility_COMPATIBILITY_FULL,
	"full_transitive":     junctionv1.Compatibility_COMPATIBILITY_FULL_TRANSITIVE,
}

func definitionToProto(d SchemaDefinition) (*junctionv1.SchemaDefinition, error) {
	t, ok := schemaTypes[d.Type]
	if !ok {
		return nil, &Error{Code: connect.CodeInvalidArgument, Reason: "INVALID_ARGUMENT", Field: "definition.type", Message: fmt.Sprintf("unknown schema type %q (use json, avro, protobuf or graphql)", d.Type)}
	}
	pb := &junctionv1.SchemaDefinition{Type: t, Message: d.Message}
	for _, f := range d.Files {
		pb.Files = append(pb.Files, &junctionv1.SchemaFile{Name: f.Name, Content: f.Content})
	}
	return pb, nil
}

func compatToProto(c Compatibility) (junctionv1.Compatibility, error) {
	if c == "" {
		return junctionv1.Compatibility_COMPATIBILITY_UNSPECIFIED, nil
	}
	m, ok := compatModes[c]
	if !ok {
		return 0, &Error{Code: connect.CodeInvalidArgument, Reason: "INVALID_ARGUMENT", Field: "compatibility", Message: fmt.Sprintf("unknown compatibility mode %q (use none, backward, backward_transitive, forward, forward_transitive, full or full_transitive)", c)}
	}
	return m, nil
}

func schemaFromProto(pb *junctionv1.Schema) *Schema {
	s := &Schema{Name: pb.GetName(), LatestVersion: int(pb.GetLatestVersion()), Stations: pb.GetStations()}
	for _, v := range pb.GetVersions() {
		s.Versions = append(s.Versions, int(v))
	}
	for k, v := range schemaTypes {
		if v == pb.GetType() {
			s.Type = k
		}
	}
	for k, v := range compatModes {
		if v == pb.GetCompatibility() {
			s.Compatibility = k
		}
	}
	if pb.GetCreatedAt() != nil {
		s.CreatedAt = pb.GetCreatedAt().AsTime()
	}
	return s
}

func versionFromProto(pb *junctionv1.SchemaVersion) *SchemaVersion {
	v := &SchemaVersion{Version: int(pb.GetVersion())}
	d := pb.GetDefinition()
	v.Definition.Message = d.GetMessage()
	for k, t := range schemaTypes {
		if t == d.GetType() {
			v.Definition.Type = k
		}
	}
	for _, f := range d.GetFiles() {
		v.Definition.Files = append(v.Definition.Files, SchemaFile{Name: f.GetName(), Content: f.GetContent()})
	}
	if pb.GetCreatedAt() != nil {
		v.CreatedAt = pb.GetCreatedAt().AsTime()
	}
	return v
}

func stationSchemaFromProto(pb *junctionv1.StationSchema) *StationSchema {
	if pb == nil {
		return nil
	}
	s := &StationSchema{Name: pb.GetName(), Version: int(pb.GetVersion()), OnInvalid: OnInvalidReject}
	if pb.GetOnInvalid() == junctionv1.OnInvalid_ON_INVALID_DEAD_LETTER {
		s.OnInvalid = OnInvalidDeadLetter
	}
	return s
}

// CreateSchema registers a schema with def as its version 1. A definition
// that does not compile fails with [ErrInvalidArgument] naming the file
// and line.
func (c *Client) CreateSchema(ctx context.Context, name string, def SchemaDefinition, compat Compatibility) (*Schema, *SchemaVersion, error) {
	pd, err := definitionToProto(def)
	if err != nil {
		return nil, nil, err
	}
	pc, err := compatToProto(compat)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.schemas.CreateSchema(ctx, connect.NewRequest(&junctionv1.CreateSchemaRequest{Name: name, Definition: pd, Compatibility: pc}))
	if err != nil {
		return nil, nil, fromConnect(err)
	}
	return schemaFromProto(resp.Msg.GetSchema()), versionFromProto(resp.Msg.GetVersion()), nil
}

// UpdateSchema adds def as a new version of a schema. When compat is set
// it becomes the schema's mode first. An incompatible version fails with
// [ErrSchemaIncompatible] and [Error.Incompatibilities].
func (c *Client) UpdateSchema(ctx context.Context, name string, def SchemaDefinition, compat Compatibility) (*Schema, *SchemaVersion, error) {
	pd, err := definitionToProto(def)
	if err != nil {
		return nil, nil, err
	}
	pc, err := compatToProto(compat)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.schemas.UpdateSchema(ctx, connect.NewRequest(&junctionv1.UpdateSchemaRequest{Name: name, Definition: pd, Compatibility: pc}))
	if err != nil {
		return nil, nil, fromConnect(err)
	}
	return schemaFromProto(resp.Msg.GetSchema()), versionFromProto(resp.Msg.GetVersion()), nil
}

// GetSchema returns a schema and one of its versions (zero: the latest).
func (c *Client) GetSchema(ctx context.Context, name string, version int) (*Schema, *SchemaVersion, error) {
	if version < 0 {
		return nil, nil, &Error{Code: connect.CodeInvalidArgument, Reason: "INVALID_ARGUMENT", Field: "version", Message: "version must not be negative"}
	}
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.schemas.GetSchema(ctx, connect.NewRequest(&junctionv1.GetSchemaRequest{Name: name, Version: uint32(version)}))
	if err != nil {
		return nil, nil, fromConnect(err)
	}
	return schemaFromProto(resp.Msg.GetSchema()), versionFromProto(resp.Msg.GetVersion()), nil
}

// Schemas lists every schema, by name.
func (c *Client) Schemas(ctx context.Context) ([]*Schema, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.schemas.ListSchemas(ctx, connect.NewRequest(&junctionv1.ListSchemasRequest{}))
	if err != nil {
		return nil, fromConnect(err)
	}
	out := make([]*Schema, 0, len(resp.Msg.GetSchemas()))
	for _, s := range resp.Msg.GetSchemas() {
		out = append(out, schemaFromProto(s))
	}
	return out, nil
}

// DeleteSchema deletes a schema and its versions. It fails with
// [ErrSchemaInUse] while a station has it attached.
func (c *Client) DeleteSchema(ctx context.Context, name string) error {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	_, err := c.schemas.DeleteSchema(ctx, connect.NewRequest(&junctionv1.DeleteSchemaRequest{Name: name}))
	return fromConnect(err)
}

// AttachSchema makes a station validate every produced message against
// a schema version (zero: the latest at each produce).
func (c *Client) AttachSchema(ctx context.Context, station string, s StationSchema) (*Station, error) {
	req := &junctionv1.AttachSchemaRequest{Station: station, Schema: s.Name, Version: uint32(s.Version)}
	switch s.OnInvalid {
	case "", OnInvalidReject:
		req.OnInvalid = junctionv1.OnInvalid_ON_INVALID_REJECT
	case OnInvalidDeadLetter:
		req.OnInvalid = junctionv1.OnInvalid_ON_INVALID_DEAD_LETTER
	default:
		return nil, &Error{Code: connect.CodeInvalidArgument, Reason: "INVALID_ARGUMENT", Field: "on_invalid", Message: fmt.Sprintf("on-invalid must be reject or dead-letter, got %q", s.OnInvalid)}
	}
	if s.Version < 0 {
		return nil, &Error{Code: connect.CodeInvalidArgument, Reason: "INVALID_ARGUMENT", Field: "version", Message: "version must not be negative"}
	}
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.schemas.AttachSchema(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, fromConnect(err)
	}
	st := stationFromProto(resp.Msg.GetStation(), nil)
	return &st, nil
}

// DetachSchema stops a station validating produced messages.
func (c *Client) DetachSchema(ctx context.Context, station string) (*Station, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.schemas.DetachSchema(ctx, connect.NewRequest(&junctionv1.DetachSchemaRequest{Station: station}))
	if err != nil {
		return nil, fromConnect(err)
	}
	st := stationFromProto(resp.Msg.GetStation(), nil)
	return &st, nil
}

// schemaReasonIs matches the schema reasons to this file's sentinels.
func schemaReasonIs(reason string, target error) (match, known bool) {
	switch reason {
	case "SCHEMA_NOT_FOUND":
		return target == ErrSchemaNotFound, true
	case "SCHEMA_EXISTS":
		return target == ErrSchemaExists, true
	case "SCHEMA_IN_USE":
		return target == ErrSchemaInUse, true
	case "SCHEMA_INCOMPATIBLE":
		return target == ErrSchemaIncompatible, true
	case "SCHEMA_VIOLATION":
		return target == ErrSchemaViolation, true
	}
	return false, false
}

// addSchemaInfo copies the schema details of an ErrorInfo into e.
func addSchemaInfo(e *Error, info *junctionv1.ErrorInfo) {
	if info == nil {
		return
	}
	e.Schema, e.Stations = info.GetSchema(), info.GetStations()
	for _, m := range info.GetInvalidMessages() {
		e.Invalid = append(e.Invalid, InvalidMessage{Index: int(m.GetIndex()), Path: m.GetPath(), Rule: m.GetRule(), Reason: m.GetReason()})
	}
	for _, ch := range info.GetIncompatibilities() {
		e.Incompatibilities = append(e.Incompatibilities, CompatibilityChange{Version: int(ch.GetVersion()), Direction: ch.GetDirection(), Path: ch.GetPath(), Reason: ch.GetReason()})
	}
	for _, r := range info.GetResults() {
		e.results = append(e.results, resultFromProto(r))
	}
}

// messageErrors splits a schema violation of a batch of n messages into
// one error per rejected message (nil for the stored ones), with the
// results of all; ok is false for any other error.
func messageErrors(err error, n int) (results []Result, errs []error, ok bool) {
	var e *Error
	if !errors.As(err, &e) || e.Reason != "SCHEMA_VIOLATION" || len(e.results) != n {
		return nil, nil, false
	}
	errs = make([]error, n)
	for _, m := range e.Invalid {
		if m.Index < 0 || m.Index >= n {
			return nil, nil, false
		}
		p := m.Path
		if p == "" {
			p = "/"
		}
		errs[m.Index] = &Error{
			Code: e.Code, Reason: e.Reason, Station: e.Station, Schema: e.Schema,
			Message: fmt.Sprintf("does not match schema %s: at %s: %s: %s", e.Schema, p, m.Rule, m.Reason),
			Invalid: []InvalidMessage{m}, cause: e.cause,
		}
	}
	return e.results, errs, true
}
