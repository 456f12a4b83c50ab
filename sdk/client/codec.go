package client

import (
	"google.golang.org/protobuf/encoding/protowire"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/protocodec"
)

// messagesCodec is connect's protobuf binary codec with a fast decoder
// for the answers a Producer reads most: a ProduceStreamResponse of a
// sequence and results. The generic decoder allocates every
// ProduceResult on its own; this one puts a response's results in one
// slab. A response with anything else in it (an error, a field this
// decoder does not know, another wire type) goes to proto.Unmarshal.
var messagesCodec = protocodec.Codec{Decode: func(data []byte, m any) (bool, error) {
	r, ok := m.(*junctionv1.ProduceStreamResponse)
	return ok && decodeProduceStreamResponse(data, r), nil
}}

// decodeProduceStreamResponse decodes data into r when it holds only a
// sequence and results, exactly as proto.Unmarshal would, and reports
// false, leaving r alone, otherwise.
func decodeProduceStreamResponse(data []byte, r *junctionv1.ProduceStreamResponse) bool {
	n, ok := walkResponse(data, nil, nil)
	if !ok {
		return false
	}
	slab := make([]junctionv1.ProduceResult, n)
	ptrs := make([]*junctionv1.ProduceResult, 0, n)
	var seq uint64
	walkResponse(data, &seq, func(raw []byte) {
		res := &slab[len(ptrs)]
		ptrs = append(ptrs, res)
		walkResult(raw, res)
	})
	r.Reset()
	r.Sequence = seq
	if n > 0 {
		r.Results = ptrs
	}
	return true
}

// walkResponse checks data and counts its results; with seq and each set
// it also fills them.
func walkResponse(b []byte, seq *uint64, each func([]byte)) (int, bool) {
	n := 0
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return 0, false
		}
		b = b[l:]
		switch {
		case num == protocodec.ProduceResponseSequence && typ == protowire.VarintType:
			v, l := protowire.ConsumeVarint(b)
			if l < 0 {
				return 0, false
			}
			b = b[l:]
			if seq != nil {
				*seq = v
			}
		case num == protocodec.ProduceResponseResults && typ == protowire.BytesType:
			v, l := protowire.ConsumeBytes(b)
			if l < 0 || (each == nil && !walkResult(v, nil)) {
				return 0, false
			}
			b = b[l:]
			n++
			if each != nil {
				each(v)
			}
		default:
			return 0, false
		}
	}
	return n, true
}

// walkResult checks one ProduceResult and, with r set, fills r.
func walkResult(b []byte, r *junctionv1.ProduceResult) bool {
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 || typ != protowire.VarintType {
			return false
		}
		b = b[l:]
		v, l := protowire.ConsumeVarint(b)
		if l < 0 {
			return false
		}
		b = b[l:]
		if num < protocodec.ResultPartition || num > protocodec.ResultDeadLettered {
			return false
		}
		if r == nil {
			continue
		}
		switch num {
		case protocodec.ResultPartition:
			r.Partition = uint32(v)
		case protocodec.ResultOffset:
			r.Offset = v
		case protocodec.ResultDuplicate:
			r.Duplicate = protowire.DecodeBool(v)
		case protocodec.ResultRejected:
			r.Rejected = protowire.DecodeBool(v)
		case protocodec.ResultDeadLettered:
			r.DeadLettered = protowire.DecodeBool(v)
		}
	}
	return true
}
