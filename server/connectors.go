package server

import (
	"context"
	"encoding/json"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/junctionhq/junction/broker/api"
	"github.com/junctionhq/junction/broker/auth"
	"github.com/junctionhq/junction/broker/cluster"
	"github.com/junctionhq/junction/plugin"
	"github.com/junctionhq/junction/plugin/config"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

type connectorService struct {
	h *plugin.Host
	// node, in a cluster, is this node: changes are made on the leader.
	node *cluster.Node
}

func connectorError(err error, name string) error {
	if err == nil {
		return nil
	}
	info := &v1.ErrorInfo{Connector: name}
	code := connect.CodeInternal
	var de *plugin.DefinitionError
	switch {
	case errors.As(err, &de):
		code, info.Reason = connect.CodeInvalidArgument, v1.ErrorReason_ERROR_REASON_INVALID_DEFINITION
		info.DefinitionErrors = definitionErrors(de.Problems)
	case errors.Is(err, plugin.ErrConnectorNotFound):
		code, info.Reason = connect.CodeNotFound, v1.ErrorReason_ERROR_REASON_CONNECTOR_NOT_FOUND
	case errors.Is(err, plugin.ErrPluginNotFound):
		code, info.Reason = connect.CodeFailedPrecondition, v1.ErrorReason_ERROR_REASON_PLUGIN_NOT_FOUND
	case errors.Is(err, auth.ErrPermissionDenied):
		code = connect.CodePermissionDenied
	default:
		return api.Error(err, "", "")
	}
	cerr := connect.NewError(code, err)
	if d, derr := connect.NewErrorDetail(info); derr == nil {
		cerr.AddDetail(d)
	}
	return cerr
}

func definitionErrors(es config.Errors) []*v1.DefinitionError {
	out := make([]*v1.DefinitionError, len(es))
	for i, e := range es {
		out[i] = &v1.DefinitionError{File: e.File, Line: int32(e.Line), Column: int32(e.Column), Field: e.Field, Message: e.Msg}
	}
	return out
}

func (s *connectorService) ApplyConnector(ctx context.Context, req *connect.Request[v1.ApplyConnectorRequest]) (*connect.Response[v1.ApplyConnectorResponse], error) {
	if err := s.leading(); err != nil {
		return nil, err
	}
	st, created, changed, err := s.h.Apply(ctx, fileName(req.Msg.FileName), req.Msg.Definition)
	if err != nil {
		return nil, connectorError(err, "")
	}
	return connect.NewResponse(&v1.ApplyConnectorResponse{Connector: statusToProto(st), Created: created, Changed: changed}), nil
}

func fileName(name string) string {
	if name == "" {
		return "definition"
	}
	return name
}

func (s *connectorService) ValidateConnector(ctx context.Context, req *connect.Request[v1.ValidateConnectorRequest]) (*connect.Response[v1.ValidateConnectorResponse], error) {
	problems, inst, err := s.h.Validate(ctx, fileName(req.Msg.FileName), req.Msg.Definition)
	if err != nil {
		return nil, connectorError(err, "")
	}
	return connect.NewResponse(&v1.ValidateConnectorResponse{Errors: definitionErrors(problems), PluginVersion: inst.Version()}), nil
}

func (s *connectorService) ListConnectors(ctx context.Context, req *connect.Request[v1.ListConnectorsRequest]) (*connect.Response[v1.ListConnectorsResponse], error) {
	resp := &v1.ListConnectorsResponse{}
	for _, st := range s.h.List() {
		resp.Connectors = append(resp.Connectors, statusToProto(st))
	}
	return connect.NewResponse(resp), nil
}

func (s *connectorService) GetConnector(ctx context.Context, req *connect.Request[v1.GetConnectorRequest]) (*connect.Response[v1.GetConnectorResponse], error) {
	st, err := s.h.Status(req.Msg.Name)
	if err != nil {
		return nil, connectorError(err, req.Msg.Name)
	}
	return connect.NewResponse(&v1.GetConnectorResponse{Connector: statusToProto(st)}), nil
}

func (s *connectorService) PauseConnector(ctx context.Context, req *connect.Request[v1.PauseConnectorRequest]) (*connect.Response[v1.PauseConnectorResponse], error) {
	if err := s.leading(); err != nil {
		return nil, err
	}
	st, err := s.h.Pause(req.Msg.Name)
	if err != nil {
		return nil, connectorError(err, req.Msg.Name)
	}
	return connect.NewResponse(&v1.PauseConnectorResponse{Connector: statusToProto(st)}), nil
}

func (s *connectorService) ResumeConnector(ctx context.Context, req *connect.Request[v1.ResumeConnectorRequest]) (*connect.Response[v1.ResumeConnectorResponse], error) {
	if err := s.leading(); err != nil {
		return nil, err
	}
	st, err := s.h.Resume(req.Msg.Name)
	if err != nil {
		return nil, connectorError(err, req.Msg.Name)
	}
	return connect.NewResponse(&v1.ResumeConnectorResponse{Connector: statusToProto(st)}), nil
}

func (s *connectorService) DeleteConnector(ctx context.Context, req *connect.Request[v1.DeleteConnectorRequest]) (*connect.Response[v1.DeleteConnectorResponse], error) {
	if err := s.leading(); err != nil {
		return nil, err
	}
	if err := s.h.Delete(ctx, req.Msg.Name); err != nil {
		return nil, connectorError(err, req.Msg.Name)
	}
	return connect.NewResponse(&v1.DeleteConnectorResponse{}), nil
}

func (s *connectorService) ListPlugins(ctx context.Context, req *connect.Request[v1.ListPluginsRequest]) (*connect.Response[v1.ListPluginsResponse], error) {
	resp := &v1.ListPluginsResponse{}
	for _, p := range s.h.Plugins(ctx) {
		resp.Plugins = append(resp.Plugins, pluginToProto(p))
	}
	return connect.NewResponse(resp), nil
}

func pluginToProto(p plugin.Installed) *v1.Plugin {
	kinds := make([]string, len(p.Spec.Kinds))
	for i, k := range p.Spec.Kinds {
		kinds[i] = string(k)
	}
	return &v1.Plugin{Name: p.Name(), Version: p.Version(), Kinds: kinds, Description: p.Spec.Description, Path: p.Path}
}

var states = map[plugin.State]v1.ConnectorState{
	plugin.StateStarting:   v1.ConnectorState_CONNECTOR_STATE_STARTING,
	plugin.StateRunning:    v1.ConnectorState_CONNECTOR_STATE_RUNNING,
	plugin.StatePaused:     v1.ConnectorState_CONNECTOR_STATE_PAUSED,
	plugin.StateRestarting: v1.ConnectorState_CONNECTOR_STATE_RESTARTING,
	plugin.StateFailed:     v1.ConnectorState_CONNECTOR_STATE_FAILED,
	plugin.StateStandby:    v1.ConnectorState_CONNECTOR_STATE_STANDBY,
}

func statusToProto(st plugin.Status) *v1.ConnectorStatus {
	p := &v1.ConnectorStatus{
		Name: st.Name, Connector: st.Connector, PluginVersion: st.PluginVersion, Kind: string(st.Kind),
		Station: st.Station, Dlq: st.DLQ, State: states[st.State], Restarts: uint32(st.Restarts), LastError: st.LastError,
		RecordsIn: st.RecordsIn, RecordsOut: st.RecordsOut, RecordsRejected: st.Rejected, Lag: st.Lag, Checkpoint: st.Checkpoint,
		Run: countsToProto(st.Run), Total: countsToProto(st.Total),
	}
	if !st.LastErrorAt.IsZero() {
		p.LastErrorAt = timestamppb.New(st.LastErrorAt)
	}
	if !st.StartedAt.IsZero() {
		p.StartedAt = timestamppb.New(st.StartedAt)
	}
	if st.Config != nil {
		if b, err := json.Marshal(st.Config); err == nil {
			p.ConfigJson = string(b)
		}
	}
	return p
}
