package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/broker/schema"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// schemaService serves the schema registry and station attachments.
type schemaService struct{ *api }

// classifySchema maps the schema registry's errors to codes and reasons;
// ok is false for other errors.
func classifySchema(err error) (code connect.Code, reason v1.ErrorReason, ok bool) {
	switch {
	case errors.Is(err, broker.ErrSchemaNotFound):
		return connect.CodeNotFound, v1.ErrorReason_ERROR_REASON_SCHEMA_NOT_FOUND, true
	case errors.Is(err, broker.ErrSchemaExists):
		return connect.CodeAlreadyExists, v1.ErrorReason_ERROR_REASON_SCHEMA_EXISTS, true
	case errors.Is(err, broker.ErrSchemaInUse):
		return connect.CodeFailedPrecondition, v1.ErrorReason_ERROR_REASON_SCHEMA_IN_USE, true
	case errors.Is(err, broker.ErrSchemaIncompatible):
		return connect.CodeFailedPrecondition, v1.ErrorReason_ERROR_REASON_SCHEMA_INCOMPATIBLE, true
	case errors.Is(err, broker.ErrSchemaViolation):
		return connect.CodeInvalidArgument, v1.ErrorReason_ERROR_REASON_SCHEMA_VIOLATION, true
	}
	return 0, 0, false
}

// addSchemaDetails puts what a schema error carries into info: the
// invalid messages and per-message results of a rejected produce, the
// breaking changes of an incompatible version, the stations of a schema
// in use.
func addSchemaDetails(info *v1.ErrorInfo, err error) {
	var sv *broker.SchemaViolationError
	if errors.As(err, &sv) {
		info.Schema = sv.Schema
		for _, m := range sv.Invalid {
			info.InvalidMessages = append(info.InvalidMessages, &v1.InvalidMessage{Index: uint32(m.Index), Path: m.Path, Rule: m.Rule, Reason: m.Reason})
		}
		info.Results = resultsToProto(sv.Results)
	}
	var ie *broker.IncompatibleSchemaError
	if errors.As(err, &ie) {
		info.Schema = ie.Schema
		for _, c := range ie.Report.Changes {
			info.Incompatibilities = append(info.Incompatibilities, &v1.CompatibilityChange{Version: uint32(c.Version), Direction: c.Direction, Path: c.Path, Reason: c.Reason})
		}
	}
	var iu *broker.SchemaInUseError
	if errors.As(err, &iu) {
		info.Schema, info.Stations = iu.Schema, iu.Stations
	}
}

// schemaErr is apiError for calls about a schema: the ErrorInfo names it.
func schemaErr(err error, name string) error {
	code, reason := classify(err)
	info := &v1.ErrorInfo{Reason: reason, Schema: name}
	var fe *broker.FieldError
	if errors.As(err, &fe) {
		info.Field = fe.Field
	}
	addSchemaDetails(info, err)
	var nl *broker.NotLeaderError
	if errors.As(err, &nl) {
		info.Leader = nl.Leader
	}
	cerr := connect.NewError(code, err)
	if d, derr := connect.NewErrorDetail(info); derr == nil {
		cerr.AddDetail(d)
	}
	return cerr
}

var schemaTypes = map[v1.SchemaType]schema.Type{
	v1.SchemaType_SCHEMA_TYPE_JSON:     schema.JSON,
	v1.SchemaType_SCHEMA_TYPE_AVRO:     schema.Avro,
	v1.SchemaType_SCHEMA_TYPE_PROTOBUF: schema.Protobuf,
	v1.SchemaType_SCHEMA_TYPE_GRAPHQL:  schema.GraphQL,
}

var compatModes = map[v1.Compatibility]schema.Compatibility{
	v1.Compatibility_COMPATIBILITY_NONE:                schema.CompatNone,
	v1.Compatibility_COMPATIBILITY_BACKWARD:            schema.CompatBackward,
	v1.Compatibility_COMPATIBILITY_BACKWARD_TRANSITIVE: schema.CompatBackwardTransitive,
	v1.Compatibility_COMPATIBILITY_FORWARD:             schema.CompatForward,
	v1.Compatibility_COMPATIBILITY_FORWARD_TRANSITIVE:  schema.CompatForwardTransitive,
	v1.Compatibility_COMPATIBILITY_FULL:                schema.CompatFull,
	v1.Compatibility_COMPATIBILITY_FULL_TRANSITIVE:     schema.CompatFullTransitive,
}

func sourceFromProto(d *v1.SchemaDefinition) (schema.Source, error) {
	if d == nil {
		return schema.Source{}, invalid("definition", "required")
	}
	t, ok := schemaTypes[d.GetType()]
	if !ok {
		return schema.Source{}, invalid("definition.type", "required: json, avro, protobuf or graphql")
	}
	src := schema.Source{Type: t, Message: d.GetMessage()}
	for _, f := range d.GetFiles() {
		src.Files = append(src.Files, schema.File{Name: f.GetName(), Content: f.GetContent()})
	}
	return src, nil
}

func modeFromProto(c v1.Compatibility) (schema.Compatibility, error) {
	if c == v1.Compatibility_COMPATIBILITY_UNSPECIFIED {
		return "", nil
	}
	m, ok := compatModes[c]
	if !ok {
		return "", invalid("compatibility", "unknown compatibility mode %d", c)
	}
	return m, nil
}

func schemaToProto(s broker.SchemaInfo) *v1.Schema {
	p := &v1.Schema{Name: s.Name, Versions: s.Versions, Stations: s.Stations, CreatedAt: timestamppb.New(s.CreatedAt)}
	if len(s.Versions) > 0 {
		p.LatestVersion = s.Latest()
	}
	for k, v := range schemaTypes {
		if v == s.Type {
			p.Type = k
		}
	}
	for k, v := range compatModes {
		if v == s.Compatibility {
			p.Compatibility = k
		}
	}
	return p
}

func versionToProto(v broker.SchemaVersion) *v1.SchemaVersion {
	d := &v1.SchemaDefinition{Message: v.Source.Message}
	for k, t := range schemaTypes {
		if t == v.Source.Type {
			d.Type = k
		}
	}
	for _, f := range v.Source.Files {
		d.Files = append(d.Files, &v1.SchemaFile{Name: f.Name, Content: f.Content})
	}
	return &v1.SchemaVersion{Version: v.Version, Definition: d, CreatedAt: timestamppb.New(v.CreatedAt)}
}

// stationSchemaToProto is the schema part of a station's settings.
func stationSchemaToProto(a *broker.StationSchema) *v1.StationSchema {
	if a == nil {
		return nil
	}
	p := &v1.StationSchema{Name: a.Name, Version: a.Version, OnInvalid: v1.OnInvalid_ON_INVALID_REJECT}
	if a.OnInvalid == broker.OnInvalidDeadLetter {
		p.OnInvalid = v1.OnInvalid_ON_INVALID_DEAD_LETTER
	}
	return p
}

// definitionFromProto decodes what a create or update of a schema sends.
func definitionFromProto(def *v1.SchemaDefinition, compat v1.Compatibility) (schema.Source, schema.Compatibility, error) {
	src, err := sourceFromProto(def)
	if err != nil {
		return schema.Source{}, "", err
	}
	mode, err := modeFromProto(compat)
	return src, mode, err
}

func (s *schemaService) CreateSchema(ctx context.Context, req *connect.Request[v1.CreateSchemaRequest]) (*connect.Response[v1.CreateSchemaResponse], error) {
	m := req.Msg
	src, mode, err := definitionFromProto(m.GetDefinition(), m.GetCompatibility())
	if err != nil {
		return nil, schemaErr(err, m.GetName())
	}
	info, v, err := s.b.CreateSchema(ctx, m.GetName(), src, mode)
	if err != nil {
		return nil, schemaErr(err, m.GetName())
	}
	return connect.NewResponse(&v1.CreateSchemaResponse{Schema: schemaToProto(info), Version: versionToProto(v)}), nil
}

func (s *schemaService) UpdateSchema(ctx context.Context, req *connect.Request[v1.UpdateSchemaRequest]) (*connect.Response[v1.UpdateSchemaResponse], error) {
	m := req.Msg
	src, mode, err := definitionFromProto(m.GetDefinition(), m.GetCompatibility())
	if err != nil {
		return nil, schemaErr(err, m.GetName())
	}
	info, v, err := s.b.UpdateSchema(ctx, m.GetName(), src, mode)
	if err != nil {
		return nil, schemaErr(err, m.GetName())
	}
	return connect.NewResponse(&v1.UpdateSchemaResponse{Schema: schemaToProto(info), Version: versionToProto(v)}), nil
}

func (s *schemaService) GetSchema(ctx context.Context, req *connect.Request[v1.GetSchemaRequest]) (*connect.Response[v1.GetSchemaResponse], error) {
	info, v, err := s.b.Schema(ctx, req.Msg.GetName(), req.Msg.GetVersion())
	if err != nil {
		return nil, schemaErr(err, req.Msg.GetName())
	}
	return connect.NewResponse(&v1.GetSchemaResponse{Schema: schemaToProto(info), Version: versionToProto(v)}), nil
}

func (s *schemaService) ListSchemas(ctx context.Context, req *connect.Request[v1.ListSchemasRequest]) (*connect.Response[v1.ListSchemasResponse], error) {
	infos, err := s.b.Schemas(ctx)
	if err != nil {
		return nil, schemaErr(err, "")
	}
	resp := &v1.ListSchemasResponse{}
	for _, info := range infos {
		resp.Schemas = append(resp.Schemas, schemaToProto(info))
	}
	return connect.NewResponse(resp), nil
}

func (s *schemaService) DeleteSchema(ctx context.Context, req *connect.Request[v1.DeleteSchemaRequest]) (*connect.Response[v1.DeleteSchemaResponse], error) {
	if err := s.b.DeleteSchema(ctx, req.Msg.GetName()); err != nil {
		return nil, schemaErr(err, req.Msg.GetName())
	}
	return connect.NewResponse(&v1.DeleteSchemaResponse{}), nil
}

func (s *schemaService) AttachSchema(ctx context.Context, req *connect.Request[v1.AttachSchemaRequest]) (*connect.Response[v1.AttachSchemaResponse], error) {
	m := req.Msg
	a := broker.StationSchema{Name: m.GetSchema(), Version: m.GetVersion()}
	switch m.GetOnInvalid() {
	case v1.OnInvalid_ON_INVALID_UNSPECIFIED, v1.OnInvalid_ON_INVALID_REJECT:
		a.OnInvalid = broker.OnInvalidReject
	case v1.OnInvalid_ON_INVALID_DEAD_LETTER:
		a.OnInvalid = broker.OnInvalidDeadLetter
	default:
		return nil, Error(invalid("on_invalid", "unknown policy %d", m.GetOnInvalid()), m.GetStation(), "")
	}
	if m.GetSchema() == "" {
		return nil, Error(invalid("schema", "required"), m.GetStation(), "")
	}
	cfg, err := s.b.AttachSchema(ctx, m.GetStation(), a)
	if err != nil {
		return nil, Error(err, m.GetStation(), "")
	}
	return connect.NewResponse(&v1.AttachSchemaResponse{Station: s.station(cfg)}), nil
}

func (s *schemaService) DetachSchema(ctx context.Context, req *connect.Request[v1.DetachSchemaRequest]) (*connect.Response[v1.DetachSchemaResponse], error) {
	cfg, err := s.b.DetachSchema(ctx, req.Msg.GetStation())
	if err != nil {
		return nil, Error(err, req.Msg.GetStation(), "")
	}
	return connect.NewResponse(&v1.DetachSchemaResponse{Station: s.station(cfg)}), nil
}
