package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// ConnectorState is where a connector is in its life: starting, running,
// paused, restarting (after a failure, with backoff), failed (given up) or,
// on a cluster node that does not run it, standby.
type ConnectorState string

// ConnectorStatus describes a connector and how it is doing.
type ConnectorStatus struct {
	Name string
	// Connector is the plugin as requested (name or name@constraint);
	// PluginVersion the version it resolved to.
	Connector, PluginVersion string
	Kind                     string
	Station, DLQ             string
	State                    ConnectorState
	Restarts                 int
	LastError                string
	LastErrorAt, StartedAt   time.Time
	// RecordsIn were read from the input side, RecordsOut written to the
	// output side, RecordsRejected sent to the dead-letter station.
	RecordsIn, RecordsOut, RecordsRejected uint64
	// Run counts the current run (since the plugin last started), Total
	// the connector's whole life: kept across pauses, restarts, updates
	// and broker restarts.
	Run, Total ConnectorCounters
	// Lag is, for a sink, the station's messages not yet written.
	Lag uint64
	// Checkpoint is, for a source, its last durable position.
	Checkpoint string
	// Config is the plugin config with secret fields redacted.
	Config map[string]any
}

// DefinitionError is one problem of a connector definition, located by
// file, line and field.
type DefinitionError struct {
	File         string
	Line, Column int
	Field        string
	Message      string
}

func (e DefinitionError) String() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Plugin is an installed connector plugin.
type Plugin struct {
	Name, Version, Description, Path string
	Kinds                            []string
}

// ApplyConnector creates the connector a YAML definition declares, or
// updates the one of that name in place. fileName names the definition in
// error messages. ${VAR} references resolve in the broker's environment.
// An invalid definition fails with [ErrInvalidDefinition], its *Error
// listing every problem.
func (c *Client) ApplyConnector(ctx context.Context, fileName string, definition []byte) (st *ConnectorStatus, created, changed bool, err error) {
	ctx, cancel := c.unaryCtx(ctx, time.Minute)
	defer cancel()
	resp, err := c.connectors.ApplyConnector(ctx, connect.NewRequest(&junctionv1.ApplyConnectorRequest{FileName: fileName, Definition: definition}))
	if err != nil {
		return nil, false, false, fromConnect(err)
	}
	return connectorFromProto(resp.Msg.GetConnector()), resp.Msg.GetCreated(), resp.Msg.GetChanged(), nil
}

// ValidateConnector checks a definition and its config against the
// broker's plugins and stations without applying it, returning every
// problem and the plugin version it resolved to.
func (c *Client) ValidateConnector(ctx context.Context, fileName string, definition []byte) ([]DefinitionError, string, error) {
	ctx, cancel := c.unaryCtx(ctx, time.Minute)
	defer cancel()
	resp, err := c.connectors.ValidateConnector(ctx, connect.NewRequest(&junctionv1.ValidateConnectorRequest{FileName: fileName, Definition: definition}))
	if err != nil {
		return nil, "", fromConnect(err)
	}
	return definitionErrorsFromProto(resp.Msg.GetErrors()), resp.Msg.GetPluginVersion(), nil
}

// Connectors lists every connector, by name.
func (c *Client) Connectors(ctx context.Context) ([]*ConnectorStatus, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.connectors.ListConnectors(ctx, connect.NewRequest(&junctionv1.ListConnectorsRequest{}))
	if err != nil {
		return nil, fromConnect(err)
	}
	out := make([]*ConnectorStatus, 0, len(resp.Msg.GetConnectors()))
	for _, s := range resp.Msg.GetConnectors() {
		out = append(out, connectorFromProto(s))
	}
	return out, nil
}

// Connector returns a connector's status, or [ErrConnectorNotFound].
func (c *Client) Connector(ctx context.Context, name string) (*ConnectorStatus, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.connectors.GetConnector(ctx, connect.NewRequest(&junctionv1.GetConnectorRequest{Name: name}))
	if err != nil {
		return nil, fromConnect(err)
	}
	return connectorFromProto(resp.Msg.GetConnector()), nil
}

// PauseConnector stops a connector after its current batch; it stays
// stopped, across broker restarts too, until resumed.
func (c *Client) PauseConnector(ctx context.Context, name string) (*ConnectorStatus, error) {
	ctx, cancel := c.unaryCtx(ctx, time.Minute)
	defer cancel()
	resp, err := c.connectors.PauseConnector(ctx, connect.NewRequest(&junctionv1.PauseConnectorRequest{Name: name}))
	if err != nil {
		return nil, fromConnect(err)
	}
	return connectorFromProto(resp.Msg.GetConnector()), nil
}

// ResumeConnector restarts a paused or failed connector.
func (c *Client) ResumeConnector(ctx context.Context, name string) (*ConnectorStatus, error) {
	ctx, cancel := c.unaryCtx(ctx, time.Minute)
	defer cancel()
	resp, err := c.connectors.ResumeConnector(ctx, connect.NewRequest(&junctionv1.ResumeConnectorRequest{Name: name}))
	if err != nil {
		return nil, fromConnect(err)
	}
	return connectorFromProto(resp.Msg.GetConnector()), nil
}

// DeleteConnector stops a connector and forgets it, with its consumer
// group (sink) or checkpoint (source).
func (c *Client) DeleteConnector(ctx context.Context, name string) error {
	ctx, cancel := c.unaryCtx(ctx, time.Minute)
	defer cancel()
	_, err := c.connectors.DeleteConnector(ctx, connect.NewRequest(&junctionv1.DeleteConnectorRequest{Name: name}))
	return fromConnect(err)
}

// Plugins lists the connector plugins installed on the broker.
func (c *Client) Plugins(ctx context.Context) ([]Plugin, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.connectors.ListPlugins(ctx, connect.NewRequest(&junctionv1.ListPluginsRequest{}))
	if err != nil {
		return nil, fromConnect(err)
	}
	out := make([]Plugin, 0, len(resp.Msg.GetPlugins()))
	for _, p := range resp.Msg.GetPlugins() {
		out = append(out, Plugin{Name: p.GetName(), Version: p.GetVersion(), Description: p.GetDescription(), Path: p.GetPath(), Kinds: p.GetKinds()})
	}
	return out, nil
}

func connectorFromProto(p *junctionv1.ConnectorStatus) *ConnectorStatus {
	st := &ConnectorStatus{
		Name: p.GetName(), Connector: p.GetConnector(), PluginVersion: p.GetPluginVersion(), Kind: p.GetKind(),
		Station: p.GetStation(), DLQ: p.GetDlq(),
		State:    ConnectorState(strings.ToLower(strings.TrimPrefix(p.GetState().String(), "CONNECTOR_STATE_"))),
		Restarts: int(p.GetRestarts()), LastError: p.GetLastError(),
		RecordsIn: p.GetRecordsIn(), RecordsOut: p.GetRecordsOut(), RecordsRejected: p.GetRecordsRejected(),
		Lag: p.GetLag(), Checkpoint: p.GetCheckpoint(),
		Run: countersFromProto(p.GetRun()), Total: countersFromProto(p.GetTotal()),
	}
	if p.GetLastErrorAt() != nil {
		st.LastErrorAt = p.GetLastErrorAt().AsTime()
	}
	if p.GetStartedAt() != nil {
		st.StartedAt = p.GetStartedAt().AsTime()
	}
	if p.GetConfigJson() != "" {
		json.Unmarshal([]byte(p.GetConfigJson()), &st.Config)
	}
	return st
}

func definitionErrorsFromProto(ps []*junctionv1.DefinitionError) []DefinitionError {
	if len(ps) == 0 {
		return nil
	}
	out := make([]DefinitionError, len(ps))
	for i, p := range ps {
		out[i] = DefinitionError{File: p.GetFile(), Line: int(p.GetLine()), Column: int(p.GetColumn()), Field: p.GetField(), Message: p.GetMessage()}
	}
	return out
}
