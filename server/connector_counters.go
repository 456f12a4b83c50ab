package server

import (
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"

	"github.com/junctionhq/junction/plugin"
)

func countsToProto(c plugin.Counts) *v1.ConnectorCounters {
	return &v1.ConnectorCounters{
		RecordsIn: c.RecordsIn, RecordsOut: c.RecordsOut, RecordsRejected: c.Rejected,
		BytesIn: c.BytesIn, BytesOut: c.BytesOut, Errors: c.Errors,
	}
}
