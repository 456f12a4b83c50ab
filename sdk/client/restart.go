package client

import (
	"context"
	"time"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// RestartConnector stops a connector's plugin and starts it again with the
// same definition; a paused connector stays paused.
func (c *Client) RestartConnector(ctx context.Context, name string) (*ConnectorStatus, error) {
	ctx, cancel := c.unaryCtx(ctx, time.Minute)
	defer cancel()
	resp, err := c.connectors.RestartConnector(ctx, connect.NewRequest(&junctionv1.RestartConnectorRequest{Name: name}))
	if err != nil {
		return nil, fromConnect(err)
	}
	return connectorFromProto(resp.Msg.GetConnector()), nil
}
