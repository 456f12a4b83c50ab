package protocol

import (
	"reflect"
	"testing"
	"time"
)

func TestPackedRoundTrip(t *testing.T) {
	recs := []Record{
		{Key: []byte("k"), Value: []byte("v"), Partition: 3, Offset: 1 << 40, Timestamp: time.Unix(1700000000, 5).UTC(),
			Headers: []Header{{Key: "a", Value: []byte("1")}, {Key: "b", Value: nil}}},
		{Value: []byte{}},
		{Key: []byte{}, Value: []byte("x"), Offset: 7},
	}
	got, err := DecodePacked(AppendPacked(nil, recs))
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{recs[0], {Value: []byte{}}, recs[2]}
	want[0].Headers[1].Value = []byte{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", got, want)
	}
	if got[1].Key != nil || got[2].Key == nil {
		t.Fatalf("nil and empty keys must stay distinct: %#v %#v", got[1].Key, got[2].Key)
	}
}

func FuzzDecodePacked(f *testing.F) {
	f.Add(AppendPacked(nil, []Record{{Key: []byte("k"), Value: []byte("v"), Headers: []Header{{Key: "h", Value: []byte("x")}}}}))
	f.Add([]byte{0, 0, 0, 5, 1, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := DecodePacked(data)
		if err != nil {
			return
		}
		again, err := DecodePacked(AppendPacked(nil, recs))
		if err != nil || len(again) != len(recs) {
			t.Fatalf("re-encoded records do not decode: %v", err)
		}
	})
}

func BenchmarkPacked(b *testing.B) {
	recs := make([]Record, 10000)
	for i := range recs {
		recs[i] = Record{Value: make([]byte, 128), Offset: uint64(i), Timestamp: time.Now()}
	}
	b.ReportAllocs()
	for b.Loop() {
		buf := AppendPacked(make([]byte, 0, PackedSize(recs)), recs)
		if _, err := DecodePacked(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
}
