package plugin

import (
	"context"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/sdk/protocol"
)

// packedSink is a sink that takes a batch in the packed encoding of the
// connector protocol, as a plugin's sink client does: the pump packs
// deliveries for it directly, without building connector.Records first.
type packedSink interface {
	WritePacked(ctx context.Context, packed []byte) error
}

// appendPacked appends ds to dst in the packed encoding, the bytes
// protocol.AppendPacked writes for the connector.Records of ds.
func appendPacked(dst []byte, ds []broker.Delivery) []byte {
	dst = protocol.AppendPackedCount(dst, len(ds))
	for i := range ds {
		rec := &ds[i].Record
		dst = protocol.AppendPackedRecord(dst, ds[i].Partition, rec.Offset, rec.Timestamp, rec.Key, rec.Value, len(rec.Headers))
		for _, h := range rec.Headers {
			dst = protocol.AppendPackedHeader(dst, h.Key, h.Value)
		}
	}
	return dst
}
