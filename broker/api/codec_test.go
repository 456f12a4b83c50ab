package api

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/protocodec"
)

// checkSameAsProto decodes data with produceCodec and with proto.Unmarshal
// into fresh messages made by newMsg and fails unless both agree: the same
// error or none, equal messages, and keys nil in the same places (a nil key
// routes round robin, an empty one would not).
func checkSameAsProto(t *testing.T, data []byte, newMsg func() proto.Message) {
	t.Helper()
	got, want := newMsg(), newMsg()
	gotErr := produceCodec.Unmarshal(bytes.Clone(data), got)
	wantErr := proto.Unmarshal(data, want)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("decode %x: err %v, proto.Unmarshal err %v", data, gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	if !proto.Equal(got, want) {
		t.Fatalf("decode %x:\n got  %v\n want %v", data, got, want)
	}
	checkNilKeys(t, data, got, want)
	if _, ok := want.(*v1.ProduceStreamRequest); ok {
		pooled, err := pooledReq(t, data)
		if err != nil || !proto.Equal(pooled, want) {
			t.Fatalf("decode %x into a pooled request: %v, err %v; want %v", data, pooled, err, want)
		}
		checkNilKeys(t, data, pooled, want)
	}
}

func checkNilKeys(t *testing.T, data []byte, got, want proto.Message) {
	t.Helper()
	gm, wm := messagesOf(got), messagesOf(want)
	for i := range wm {
		if (gm[i].Key == nil) != (wm[i].Key == nil) {
			t.Fatalf("decode %x: message %d key %#v, proto.Unmarshal %#v", data, i, gm[i].Key, wm[i].Key)
		}
	}
}

func messagesOf(m proto.Message) []*v1.Message {
	switch m := m.(type) {
	case *v1.ProduceStreamRequest:
		return m.Messages
	case *v1.ProduceRequest:
		return m.Messages
	}
	return nil
}

func newStreamReq() proto.Message { return &v1.ProduceStreamRequest{} }

// pooledReq decodes into a streamRequest, whose slabs come from the pool
// and so hold whatever earlier requests left there, and returns a copy
// with the messages it holds, built or not.
func pooledReq(t *testing.T, data []byte) (proto.Message, error) {
	r := &streamRequest{ProduceStreamRequest: new(v1.ProduceStreamRequest)}
	defer r.release()
	if err := produceCodec.Unmarshal(data, r); err != nil {
		return nil, err
	}
	return streamRequestCopy(t, r), nil
}

// streamRequestCopy returns r as the ProduceStreamRequest it stands for.
func streamRequestCopy(t *testing.T, r *streamRequest) *v1.ProduceStreamRequest {
	out := proto.Clone(r.ProduceStreamRequest).(*v1.ProduceStreamRequest)
	if r.built == nil {
		return out
	}
	if r.built.Len() == 0 || len(out.Messages) > 0 {
		t.Fatalf("request with %d built messages and %d decoded ones", r.built.Len(), len(out.Messages))
	}
	for k, v := range r.built.All() {
		out.Messages = append(out.Messages, &v1.Message{Key: bytes.Clone(k), Value: bytes.Clone(v)})
	}
	return out
}
func newUnaryReq() proto.Message { return &v1.ProduceRequest{} }

func sampleMessages() []*v1.Message {
	return []*v1.Message{
		{Value: bytes.Repeat([]byte("v"), 128)},
		{Key: []byte("k1"), Value: []byte("with key"), Id: "id-1"},
		{Value: []byte("headers"), Headers: []*v1.Header{{Key: "a", Value: []byte("1")}, {Key: "b"}, {Key: "ünïcode", Value: []byte("3")}}},
		{},
		{Key: []byte("k2"), Headers: []*v1.Header{{Key: "c", Value: []byte("x")}}, Id: "id-2"},
	}
}

func seedInputs(t testing.TB) [][]byte {
	var out [][]byte
	for _, m := range []proto.Message{
		&v1.ProduceStreamRequest{Sequence: 7, Station: "orders", Messages: sampleMessages()},
		&v1.ProduceStreamRequest{Sequence: 1 << 40},
		&v1.ProduceRequest{Station: "orders", Messages: sampleMessages()},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	msg := protowire.AppendTag(nil, 2, protowire.BytesType)
	msg = protowire.AppendBytes(msg, nil) // an empty value is nil, like an absent one
	msg = protowire.AppendTag(msg, 1, protowire.BytesType)
	msg = protowire.AppendBytes(msg, nil) // an empty key too
	req := protowire.AppendTag(nil, 3, protowire.BytesType)
	req = protowire.AppendBytes(req, msg)
	out = append(out,
		req,
		append(protowire.AppendTag(nil, 2, protowire.BytesType), 2, 0xff, 0xfe), // station not UTF-8
		append(protowire.AppendTag(nil, 2, protowire.VarintType), 5),            // station with the wrong wire type
		append(protowire.AppendTag(nil, 99, protowire.VarintType), 5),           // unknown field
		append(protowire.AppendTag(nil, 3, protowire.BytesType), 10, 1),         // truncated message
		[]byte{0x08, 0x80},                     // truncated varint
		append(bytes.Clone(out[0]), out[0]...), // fields repeated: the last scalar wins, messages add up
	)
	return out
}

func TestProduceCodecMatchesProto(t *testing.T) {
	for _, data := range seedInputs(t) {
		checkSameAsProto(t, data, newStreamReq)
		checkSameAsProto(t, data, newUnaryReq)
	}
}

// The decoded request owns its bytes: connect reuses the buffer it read.
func TestProduceCodecCopiesInput(t *testing.T) {
	data := seedInputs(t)[0]
	var got v1.ProduceStreamRequest
	if err := produceCodec.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	clear(data)
	want := &v1.ProduceStreamRequest{Sequence: 7, Station: "orders", Messages: sampleMessages()}
	if !proto.Equal(&got, want) {
		t.Fatalf("after the input was overwritten: %v", &got)
	}
	// Values share an arena; appending to one must not overwrite the next.
	_ = append(got.Messages[1].Key, "xxxxxxxx"...)
	if string(got.Messages[1].Value) != "with key" {
		t.Fatalf("append to a key overwrote the value: %q", got.Messages[1].Value)
	}
}

// Messages without headers or ids are decoded into a batch, copied out of
// connect's buffer, which is reused; a stream's request is decoded in
// place of its predecessor whichever way each went.
func TestProduceStreamRequestBuilds(t *testing.T) {
	plain := &v1.ProduceStreamRequest{Sequence: 3, Station: "orders", Messages: []*v1.Message{
		{Value: []byte("one")}, {Key: []byte("k"), Value: []byte("two")}, {}, {Id: ""},
	}}
	mixed := &v1.ProduceStreamRequest{Sequence: 4, Station: "orders", Messages: sampleMessages()}
	r := &streamRequest{ProduceStreamRequest: new(v1.ProduceStreamRequest)}
	defer r.release()
	for i, c := range []struct {
		req   *v1.ProduceStreamRequest
		built bool
	}{{plain, true}, {mixed, false}, {plain, true}, {&v1.ProduceStreamRequest{Sequence: 5, Station: "other", Messages: plain.Messages}, true}} {
		data, err := proto.Marshal(c.req)
		if err != nil {
			t.Fatal(err)
		}
		if err := produceCodec.Unmarshal(data, r); err != nil {
			t.Fatal(err)
		}
		clear(data)
		if got := r.built != nil; got != c.built {
			t.Fatalf("request %d: built %v, want %v", i, got, c.built)
		}
		if got := streamRequestCopy(t, r); !proto.Equal(got, c.req) {
			t.Fatalf("request %d after its buffer was overwritten:\n got  %v\n want %v", i, got, c.req)
		}
		if c.built && (r.built.Len() != len(c.req.Messages) || !r.built.HasKeys() || r.built.LargestRecord() != 4) {
			t.Fatalf("request %d: %d records, keys %v, largest %d", i, r.built.Len(), r.built.HasKeys(), r.built.LargestRecord())
		}
	}
}

// The fast decoder knows every field of the messages it decodes, and the
// fast encoder every field of those it encodes; a field added to the
// .proto must be added to them too (until then, requests using it take
// the slow path, and answers would lose it: this test fails first).
func TestProduceCodecKnowsEveryField(t *testing.T) {
	for _, c := range []struct {
		desc protoreflect.MessageDescriptor
		want []protoreflect.FieldNumber
	}{
		{(&v1.ProduceStreamRequest{}).ProtoReflect().Descriptor(), []protoreflect.FieldNumber{1, 2, 3}},
		{(&v1.ProduceRequest{}).ProtoReflect().Descriptor(), []protoreflect.FieldNumber{1, 2}},
		{(&v1.Message{}).ProtoReflect().Descriptor(), []protoreflect.FieldNumber{msgKey, msgValue, msgHeaders, msgID}},
		{(&v1.Header{}).ProtoReflect().Descriptor(), []protoreflect.FieldNumber{hdrKey, hdrValue}},
		{(&v1.ProduceStreamResponse{}).ProtoReflect().Descriptor(), []protoreflect.FieldNumber{protocodec.ProduceResponseSequence, protocodec.ProduceResponseResults, 3, 4, 5}},
		{(&v1.ProduceResult{}).ProtoReflect().Descriptor(), []protoreflect.FieldNumber{protocodec.ResultPartition, protocodec.ResultOffset, protocodec.ResultDuplicate, protocodec.ResultRejected, protocodec.ResultDeadLettered}},
	} {
		fields := c.desc.Fields()
		if fields.Len() != len(c.want) {
			t.Errorf("%s has %d fields, the produce decoder knows %d", c.desc.FullName(), fields.Len(), len(c.want))
		}
		for _, n := range c.want {
			if fields.ByNumber(n) == nil {
				t.Errorf("%s has no field %d", c.desc.FullName(), n)
			}
		}
	}
}

func FuzzProduceCodec(f *testing.F) {
	for _, data := range seedInputs(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSameAsProto(t, data, newStreamReq)
		checkSameAsProto(t, data, newUnaryReq)
	})
}

func BenchmarkProduceCodec(b *testing.B) {
	msgs := make([]*v1.Message, 1000)
	for i := range msgs {
		msgs[i] = &v1.Message{Value: make([]byte, 128)}
	}
	data, err := proto.Marshal(&v1.ProduceStreamRequest{Sequence: 1, Station: "bench", Messages: msgs})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		codec interface{ Unmarshal([]byte, any) error }
	}{{"fast", produceCodec}, {"proto", protoUnmarshaler{}}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var req v1.ProduceStreamRequest
				if err := c.codec.Unmarshal(data, &req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// What ProduceStream does: decode into its request, messages
	// without headers into a batch.
	b.Run("stream", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		r := &streamRequest{ProduceStreamRequest: new(v1.ProduceStreamRequest)}
		for b.Loop() {
			if err := produceCodec.Unmarshal(data, r); err != nil || r.built == nil {
				b.Fatal(err)
			}
		}
	})
}

type protoUnmarshaler struct{}

func (protoUnmarshaler) Unmarshal(b []byte, m any) error {
	return proto.Unmarshal(b, m.(proto.Message))
}
