package protocol

import (
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	pb "github.com/junctionhq/junction/sdk/proto/connectorv1"
)

// Field numbers of SinkWriteRequest and RecordBatches (sdk/proto), and
// the most framing bytes a batch takes: three tags and varints.
const (
	fieldWriteBatches  = 3
	fieldWriteSeq      = 4
	fieldBatchPart     = 1
	fieldBatchData     = 2
	maxVarintBytes     = 10
	maxFramingPerBatch = 3 * (1 + maxVarintBytes)
)

// writeCodec is the gRPC codec of a sink write of record batches: it sends
// the batches' bytes as they are, after a few bytes of protobuf framing,
// instead of copying megabytes into one marshalled message. The bytes are
// protobuf's own encoding of the SinkWriteRequest, so the plugin decodes
// them with its usual codec. Anything else is marshalled by the proto
// codec, which also unmarshals every answer.
type writeCodec struct{}

var protoCodec = encoding.GetCodecV2(protocodec.Name)

// Name is the proto codec's: the bytes on the wire are protobuf.
func (writeCodec) Name() string { return protocodec.Name }

func (writeCodec) Marshal(v any) (mem.BufferSlice, error) {
	req, ok := v.(*pb.SinkWriteRequest)
	if !ok || len(req.GetRecords()) > 0 || len(req.GetPackedRecords()) > 0 {
		return protoCodec.Marshal(v)
	}
	return appendWriteRequest(nil, req.GetSeq(), req.GetBatches()), nil
}

func (writeCodec) Unmarshal(data mem.BufferSlice, v any) error { return protoCodec.Unmarshal(data, v) }

// appendWriteRequest appends to out the protobuf encoding of a
// SinkWriteRequest of seq and batches: the framing in one buffer, each
// batch's data aliased between.
func appendWriteRequest(out mem.BufferSlice, seq uint64, batches []*pb.RecordBatches) mem.BufferSlice {
	frame := make([]byte, 0, maxVarintBytes+1+len(batches)*maxFramingPerBatch)
	if seq != 0 {
		frame = protowire.AppendTag(frame, fieldWriteSeq, protowire.VarintType)
		frame = protowire.AppendVarint(frame, seq)
	}
	start := 0
	for _, b := range batches {
		part, data := b.GetPartition(), b.GetData()
		inner := 0
		if part != 0 {
			inner += protowire.SizeTag(fieldBatchPart) + protowire.SizeVarint(uint64(part))
		}
		if len(data) > 0 {
			inner += protowire.SizeTag(fieldBatchData) + protowire.SizeBytes(len(data))
		}
		frame = protowire.AppendTag(frame, fieldWriteBatches, protowire.BytesType)
		frame = protowire.AppendVarint(frame, uint64(inner))
		if part != 0 {
			frame = protowire.AppendTag(frame, fieldBatchPart, protowire.VarintType)
			frame = protowire.AppendVarint(frame, uint64(part))
		}
		if len(data) == 0 {
			continue
		}
		frame = protowire.AppendTag(frame, fieldBatchData, protowire.BytesType)
		frame = protowire.AppendVarint(frame, uint64(len(data)))
		out = append(out, mem.SliceBuffer(frame[start:len(frame):len(frame)]), mem.SliceBuffer(data))
		start = len(frame)
	}
	if start < len(frame) {
		out = append(out, mem.SliceBuffer(frame[start:]))
	}
	return out
}
