package protocol

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	pb "github.com/junctionhq/junction/sdk/proto/connectorv1"
)

// fuzzBatches splits raw into up to three batches of partitions taken from
// parts, empty ones included.
func fuzzBatches(parts uint32, raw []byte) []*pb.RecordBatches {
	var bs []*pb.RecordBatches
	for i := range 3 {
		n := min(len(raw), int(parts>>(8*i))&0xff)
		bs = append(bs, &pb.RecordBatches{Partition: parts >> (3 * i), Data: raw[:n]})
		raw = raw[n:]
	}
	if len(raw) > 0 {
		bs = append(bs, &pb.RecordBatches{Data: raw})
	}
	return bs
}

// The write codec's bytes are the protobuf encoding of the request: the
// plugin's proto codec decodes them to what was sent.
func FuzzWriteCodecIsProtobuf(f *testing.F) {
	f.Add(uint64(0), uint32(0), []byte(nil))
	f.Add(uint64(1), uint32(0x00030201), []byte("abcdefgh"))
	f.Add(uint64(1<<40), uint32(0xffffffff), bytes.Repeat([]byte{0xff}, 300))
	f.Fuzz(func(t *testing.T, seq uint64, parts uint32, raw []byte) {
		req := &pb.SinkWriteRequest{Seq: seq, Batches: fuzzBatches(parts, raw)}
		data, err := writeCodec{}.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		var got pb.SinkWriteRequest
		if err := proto.Unmarshal(data.Materialize(), &got); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !proto.Equal(&got, req) {
			t.Fatalf("decoded %v, sent %v", &got, req)
		}
	})
}

// Requests other than record batches go through the proto codec.
func TestWriteCodecMarshalsOtherRequestsAsProto(t *testing.T) {
	req := &pb.SinkWriteRequest{PackedRecords: []byte("packed"), Seq: 3}
	data, err := writeCodec{}.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var got pb.SinkWriteRequest
	if err := proto.Unmarshal(data.Materialize(), &got); err != nil || !proto.Equal(&got, req) {
		t.Fatalf("decoded %v (%v), sent %v", &got, err, req)
	}
}

// The plugin's decoding of a sink write gives what proto.Unmarshal gives,
// whatever the bytes, and fails where it fails.
func FuzzServerCodecDecodesLikeProto(f *testing.F) {
	for _, req := range []*pb.SinkWriteRequest{
		{}, {Seq: 9, Batches: fuzzBatches(0x00020103, []byte("abcdef"))},
		{PackedRecords: []byte("packed")}, {Records: []*pb.Record{{Value: []byte("v")}}},
	} {
		raw, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte{0x1a, 0x05, 0x08})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want, got pb.SinkWriteRequest
		werr := proto.Unmarshal(raw, &want)
		gerr := serverCodec{}.Unmarshal(mem.BufferSlice{mem.SliceBuffer(raw)}, &got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("proto: %v, codec: %v", werr, gerr)
		}
		if werr == nil && !proto.Equal(&got, &want) {
			t.Fatalf("codec decoded %v, proto %v", &got, &want)
		}
	})
}
