package api

import (
	"bytes"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// checkEncodesLikeProto encodes r as ProduceStream's answer with
// produceCodec and with proto.Marshal and fails unless both give the same
// bytes.
func checkEncodesLikeProto(t *testing.T, r *v1.ProduceStreamResponse) {
	t.Helper()
	got, gotErr := produceCodec.MarshalAppend([]byte("prefix"), &produceAnswer{r})
	want, wantErr := proto.MarshalOptions{}.MarshalAppend([]byte("prefix"), r)
	if gotErr != nil || wantErr != nil || !bytes.Equal(got, want) {
		t.Fatalf("encode %v:\n got  %x, %v\n want %x, %v", r, got, gotErr, want, wantErr)
	}
}

func sampleResponses() []*v1.ProduceStreamResponse {
	var all []*v1.ProduceResult
	for i := range 32 {
		all = append(all, &v1.ProduceResult{Partition: uint32(i % 3), Offset: uint64(i) << (i % 64),
			Duplicate: i&1 != 0, Rejected: i&2 != 0, DeadLettered: i&4 != 0})
	}
	return []*v1.ProduceStreamResponse{
		{},
		{Sequence: 1},
		{Sequence: math.MaxUint64, Results: all},
		{Results: []*v1.ProduceResult{{}, {Partition: math.MaxUint32, Offset: math.MaxUint64}}},
		{Sequence: 3, Error: "station not found", ErrorCode: "not_found", ErrorInfo: &v1.ErrorInfo{Reason: v1.ErrorReason_ERROR_REASON_STATION_NOT_FOUND}},
		{Sequence: 4, Results: all[:2], ErrorInfo: &v1.ErrorInfo{Reason: v1.ErrorReason_ERROR_REASON_STATION_NOT_FOUND, Results: all[2:4]}},
	}
}

func TestEncodeProduceMatchesProto(t *testing.T) {
	for _, r := range sampleResponses() {
		checkEncodesLikeProto(t, r)
	}
	// It takes only ProduceStream's answers, and only those without an
	// error; proto.Marshal encodes the rest.
	for _, m := range []any{
		&v1.ProduceStreamResponse{Sequence: 7, Results: []*v1.ProduceResult{{Offset: 8}}},
		&produceAnswer{&v1.ProduceStreamResponse{Sequence: 7, ErrorCode: "not_found"}},
	} {
		if _, ok := encodeProduce(nil, m); ok {
			t.Fatalf("the fast encoder took %v", m)
		}
	}
	if _, ok := encodeProduce(nil, &produceAnswer{&v1.ProduceStreamResponse{Sequence: 7, Results: []*v1.ProduceResult{{Offset: 8}}}}); !ok {
		t.Fatal("the fast encoder declined a plain answer")
	}
}

// FuzzEncodeProduce encodes answers decoded from arbitrary bytes (without
// the unknown fields an answer ProduceStream builds cannot have).
func FuzzEncodeProduce(f *testing.F) {
	for _, r := range sampleResponses() {
		b, err := proto.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r v1.ProduceStreamResponse
		if proto.Unmarshal(data, &r) != nil {
			return
		}
		r.ProtoReflect().SetUnknown(nil)
		for _, res := range r.Results {
			res.ProtoReflect().SetUnknown(nil)
		}
		checkEncodesLikeProto(t, &r)
	})
}

func BenchmarkEncodeProduce(b *testing.B) {
	rs := make([]*v1.ProduceResult, 1000)
	for i := range rs {
		rs[i] = &v1.ProduceResult{Offset: uint64(1_000_000 + i)}
	}
	resp := &produceAnswer{&v1.ProduceStreamResponse{Sequence: 77, Results: rs}}
	for _, c := range []struct {
		name  string
		codec interface {
			MarshalAppend([]byte, any) ([]byte, error)
		}
	}{{"fast", produceCodec}, {"proto", protoMarshaler{}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = c.codec.MarshalAppend(buf[:0], resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type protoMarshaler struct{}

func (protoMarshaler) MarshalAppend(dst []byte, m any) ([]byte, error) {
	return proto.MarshalOptions{}.MarshalAppend(dst, m.(*produceAnswer).ProduceStreamResponse)
}
