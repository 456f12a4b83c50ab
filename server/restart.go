package server

import (
	"context"

	"connectrpc.com/connect"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

func (s *connectorService) RestartConnector(ctx context.Context, req *connect.Request[v1.RestartConnectorRequest]) (*connect.Response[v1.RestartConnectorResponse], error) {
	st, err := s.h.Restart(req.Msg.Name)
	if err != nil {
		return nil, connectorError(err, req.Msg.Name)
	}
	return connect.NewResponse(&v1.RestartConnectorResponse{Connector: statusToProto(st)}), nil
}
