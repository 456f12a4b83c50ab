package client

import junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"

// ConnectorCounters count what a connector moved.
type ConnectorCounters struct {
	// RecordsIn were read from the input side, RecordsOut written to the
	// output side, RecordsRejected sent to the dead-letter station.
	RecordsIn, RecordsOut, RecordsRejected uint64
	// BytesIn and BytesOut are the bytes of those records' keys and values.
	BytesIn, BytesOut uint64
	// Errors are runs that ended in an error.
	Errors uint64
}

func countersFromProto(p *junctionv1.ConnectorCounters) ConnectorCounters {
	return ConnectorCounters{
		RecordsIn: p.GetRecordsIn(), RecordsOut: p.GetRecordsOut(), RecordsRejected: p.GetRecordsRejected(),
		BytesIn: p.GetBytesIn(), BytesOut: p.GetBytesOut(), Errors: p.GetErrors(),
	}
}
