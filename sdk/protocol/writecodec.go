package protocol

import (
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

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
	if !ok || len(req.GetRecords()) > 0 || len(req.GetPackedRecords()) > 0 || len(req.GetShared()) > 0 {
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

// serverCodec is the plugin's gRPC codec: a sink write's record batches
// alias the received message instead of being copied out of it, so a
// batch reaches the sink after one copy out of the transport's buffers,
// not two. Everything else is the proto codec's.
type serverCodec struct{}

// Name is the proto codec's: the bytes on the wire are protobuf.
func (serverCodec) Name() string { return protocodec.Name }

func (serverCodec) Marshal(v any) (mem.BufferSlice, error) { return protoCodec.Marshal(v) }

func (serverCodec) Unmarshal(data mem.BufferSlice, v any) error {
	req, ok := v.(*pb.SinkWriteRequest)
	if !ok {
		return protoCodec.Unmarshal(data, v)
	}
	buf := data.Materialize()
	if decodeWriteRequest(buf, req) {
		return nil
	}
	return proto.Unmarshal(buf, req)
}

// decodeWriteRequest decodes buf into req when it holds only record
// batches and a seq, with the batches' data aliasing buf, and reports
// whether it did. For anything else, malformed input included, it returns
// false and leaves req for proto.Unmarshal to fill (and to report).
func decodeWriteRequest(buf []byte, req *pb.SinkWriteRequest) bool {
	var (
		seq     uint64
		batches []*pb.RecordBatches
	)
	for len(buf) > 0 {
		num, typ, n := protowire.ConsumeTag(buf)
		if n < 0 {
			return false
		}
		buf = buf[n:]
		switch {
		case num == fieldWriteSeq && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(buf)
			if n < 0 {
				return false
			}
			seq, buf = v, buf[n:]
		case num == fieldWriteBatches && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return false
			}
			b, ok := decodeRecordBatches(v)
			if !ok {
				return false
			}
			batches, buf = append(batches, b), buf[n:]
		default:
			return false
		}
	}
	req.Reset()
	req.Seq, req.Batches = seq, batches
	return true
}

func decodeRecordBatches(buf []byte) (*pb.RecordBatches, bool) {
	b := &pb.RecordBatches{}
	for len(buf) > 0 {
		num, typ, n := protowire.ConsumeTag(buf)
		if n < 0 {
			return nil, false
		}
		buf = buf[n:]
		switch {
		case num == fieldBatchPart && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(buf)
			if n < 0 {
				return nil, false
			}
			b.Partition, buf = uint32(v), buf[n:]
		case num == fieldBatchData && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(buf)
			if n < 0 {
				return nil, false
			}
			b.Data, buf = v[:len(v):len(v)], buf[n:]
		default:
			return nil, false
		}
	}
	return b, true
}
