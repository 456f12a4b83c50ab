package protocodec

import (
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestUnmarshalFallsBackToProto(t *testing.T) {
	data, err := Codec{}.Marshal(wrapperspb.String("station"))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	declining := Codec{Decode: func([]byte, any) (bool, error) { calls++; return false, nil }}
	var got wrapperspb.StringValue
	if err := declining.Unmarshal(data, &got); err != nil || got.GetValue() != "station" || calls != 1 {
		t.Fatalf("declined decode: %v, value %q, Decode called %d times", err, got.GetValue(), calls)
	}

	fast := Codec{Decode: func(_ []byte, m any) (bool, error) {
		m.(*wrapperspb.StringValue).Value = "fast"
		return true, nil
	}}
	if err := fast.Unmarshal(data, &got); err != nil || got.GetValue() != "fast" {
		t.Fatalf("handled decode: %v, value %q, want the fast decoder's", err, got.GetValue())
	}

	boom := errors.New("boom")
	failing := Codec{Decode: func([]byte, any) (bool, error) { return false, boom }}
	if err := failing.Unmarshal(data, &got); !errors.Is(err, boom) {
		t.Fatalf("failing decode: %v, want its error", err)
	}

	if err := (Codec{}).Unmarshal([]byte{0xff}, &got); err == nil {
		t.Fatal("malformed data decoded without an error")
	}
	if err := (Codec{}).Unmarshal(data, new(int)); err == nil {
		t.Fatal("decoded into a non-protobuf value")
	}
	stable, err := Codec{}.MarshalStable(wrapperspb.String("station"))
	if err != nil || !proto.Equal(mustDecode(t, stable), wrapperspb.String("station")) {
		t.Fatalf("MarshalStable: %v", err)
	}
}

func mustDecode(t *testing.T, b []byte) *wrapperspb.StringValue {
	t.Helper()
	var v wrapperspb.StringValue
	if err := proto.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

func TestMarshalFallsBackToProto(t *testing.T) {
	want, err := proto.Marshal(wrapperspb.String("station"))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	declining := Codec{Encode: func(dst []byte, _ any) ([]byte, bool) { calls++; return dst, false }}
	got, err := declining.MarshalAppend([]byte("prefix"), wrapperspb.String("station"))
	if err != nil || string(got) != "prefix"+string(want) || calls != 1 {
		t.Fatalf("declined encode: %q, %v, Encode called %d times; want %q", got, err, calls, "prefix"+string(want))
	}
	fast := Codec{Encode: func(dst []byte, _ any) ([]byte, bool) { return append(dst, "fast"...), true }}
	if got, err := fast.Marshal(wrapperspb.String("station")); err != nil || string(got) != "fast" {
		t.Fatalf("handled encode: %q, %v, want the fast encoder's", got, err)
	}
	if _, err := (Codec{}).Marshal(new(int)); err == nil {
		t.Fatal("encoded a non-protobuf value")
	}
}
