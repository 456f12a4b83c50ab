package client

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/protocodec"
)

func checkResponseSameAsProto(t *testing.T, data []byte) {
	t.Helper()
	var got, want junctionv1.ProduceStreamResponse
	gotErr := messagesCodec.Unmarshal(bytes.Clone(data), &got)
	wantErr := proto.Unmarshal(data, &want)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("decode %x: err %v, proto.Unmarshal err %v", data, gotErr, wantErr)
	}
	if wantErr == nil && !proto.Equal(&got, &want) {
		t.Fatalf("decode %x:\n got  %v\n want %v", data, &got, &want)
	}
}

func responseSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, m := range []*junctionv1.ProduceStreamResponse{
		{Sequence: 9, Results: []*junctionv1.ProduceResult{{Offset: 1}, {Partition: 3, Offset: 1 << 40, Duplicate: true}, {Rejected: true}, {DeadLettered: true, Partition: 1}}},
		{Sequence: 1},
		{Sequence: 2, Error: "disk full", ErrorCode: "internal", ErrorInfo: &junctionv1.ErrorInfo{Station: "s"}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	res := protowire.AppendTag(nil, protocodec.ResultPartition, protowire.VarintType)
	res = protowire.AppendVarint(res, 1<<33) // a uint32 keeps the low bits
	res = protowire.AppendTag(res, protocodec.ResultDuplicate, protowire.VarintType)
	res = protowire.AppendVarint(res, 2) // any non-zero bool is true
	out = append(out,
		protowire.AppendBytes(protowire.AppendTag(nil, protocodec.ProduceResponseResults, protowire.BytesType), res),
		append(protowire.AppendTag(nil, protocodec.ProduceResponseResults, protowire.BytesType), 2, 0x0a, 0), // a result field with another wire type
		append(protowire.AppendTag(nil, protocodec.ProduceResponseResults, protowire.BytesType), 5, 0),       // truncated
		append(protowire.AppendTag(nil, 77, protowire.VarintType), 1),                                        // unknown field
		append(bytes.Clone(out[0]), out[0]...),                                                               // repeated: the last sequence, all results
	)
	return out
}

func TestMessagesCodecMatchesProto(t *testing.T) {
	for _, data := range responseSeeds(t) {
		checkResponseSameAsProto(t, data)
	}
}

// A field added to ProduceResult must be added to the fast decoder.
func TestMessagesCodecKnowsEveryResultField(t *testing.T) {
	fields := (&junctionv1.ProduceResult{}).ProtoReflect().Descriptor().Fields()
	if fields.Len() != protocodec.ResultDeadLettered {
		t.Fatalf("ProduceResult has %d fields, the fast decoder knows %d", fields.Len(), protocodec.ResultDeadLettered)
	}
	for n := 1; n <= protocodec.ResultDeadLettered; n++ {
		if fields.ByNumber(protowire.Number(n)) == nil {
			t.Fatalf("ProduceResult has no field %d", n)
		}
	}
}

func FuzzMessagesCodec(f *testing.F) {
	for _, data := range responseSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(checkResponseSameAsProto)
}
