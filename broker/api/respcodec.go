package api

import (
	"google.golang.org/protobuf/encoding/protowire"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/protocodec"
)

// produceAnswer is an answer ProduceStream built: a ProduceStreamResponse
// (which other codecs see through the embedded pointer) whose results it
// made itself, with no unknown fields and no nil results, so that
// encodeProduce need not look for those.
type produceAnswer struct {
	*v1.ProduceStreamResponse
}

// encodeProduce is produceCodec's fast encoder. A ProduceStreamResponse
// carries one result per message of its request; proto.Marshal sizes and
// writes each as a message of its own, several times the work of writing
// them out here. It takes ProduceStream's answers to requests that
// succeeded (a sequence and results, no error) and writes exactly what
// proto.Marshal would; it declines anything else.
func encodeProduce(dst []byte, m any) ([]byte, bool) {
	a, ok := m.(*produceAnswer)
	if !ok {
		return dst, false
	}
	r := a.ProduceStreamResponse
	if r.Error != "" || r.ErrorCode != "" || r.ErrorInfo != nil {
		return dst, false
	}
	if r.Sequence != 0 {
		dst = protowire.AppendTag(dst, protocodec.ProduceResponseSequence, protowire.VarintType)
		dst = protowire.AppendVarint(dst, r.Sequence)
	}
	for _, res := range r.Results {
		dst = protowire.AppendTag(dst, protocodec.ProduceResponseResults, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(resultSize(res)))
		if res.Partition != 0 {
			dst = protowire.AppendTag(dst, protocodec.ResultPartition, protowire.VarintType)
			dst = protowire.AppendVarint(dst, uint64(res.Partition))
		}
		if res.Offset != 0 {
			dst = protowire.AppendTag(dst, protocodec.ResultOffset, protowire.VarintType)
			dst = protowire.AppendVarint(dst, res.Offset)
		}
		for _, f := range [...]struct {
			num protowire.Number
			set bool
		}{{protocodec.ResultDuplicate, res.Duplicate}, {protocodec.ResultRejected, res.Rejected}, {protocodec.ResultDeadLettered, res.DeadLettered}} {
			if f.set {
				dst = protowire.AppendTag(dst, f.num, protowire.VarintType)
				dst = append(dst, 1)
			}
		}
	}
	return dst, true
}

// resultSize is the size of res's encoding (every tag is one byte).
func resultSize(res *v1.ProduceResult) int {
	n := 0
	if res.Partition != 0 {
		n += 1 + protowire.SizeVarint(uint64(res.Partition))
	}
	if res.Offset != 0 {
		n += 1 + protowire.SizeVarint(res.Offset)
	}
	for _, set := range [...]bool{res.Duplicate, res.Rejected, res.DeadLettered} {
		if set {
			n += 2
		}
	}
	return n
}
