package protocol

import (
	"context"
	"encoding/binary"
	"errors"
	"github.com/junctionhq/junction/sdk/internal/golden"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	pb "github.com/junctionhq/junction/sdk/proto/connectorv1"
	"github.com/junctionhq/junction/sdk/recordbatch"
)

// The records of record batches are those the broker stored, with the
// partition of their batches, in order.
func TestDecodeRecordBatchesGolden(t *testing.T) {
	const ts = 1700000000123456789
	data := golden.RecordBatches(t)
	got, err := DecodeRecordBatches([]RecordBatches{{Partition: 3, Data: data}, {Partition: 1, Data: data[:0]}, {Partition: 0, Data: data}})
	if err != nil {
		t.Fatal(err)
	}
	one := []Record{
		{Offset: 100, Timestamp: time.Unix(0, ts).UTC(), Key: []byte("k1"), Value: []byte("hello"),
			Headers: []Header{{Key: "content-type", Value: []byte("text/plain")}}},
		{Offset: 101, Timestamp: time.Unix(0, ts+5).UTC(), Value: []byte{}},
		{Offset: 102, Timestamp: time.Unix(0, ts-3).UTC(), Key: []byte{}, Headers: []Header{{Key: "a"}, {Key: "a", Value: []byte("2")}}},
		{Offset: 200, Timestamp: time.Unix(0, ts+1000).UTC(), Value: []byte("x")},
	}
	var want []Record
	for _, p := range []uint32{3, 0} {
		for _, r := range one {
			r.Partition = p
			want = append(want, r)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
	}
}

// A damaged batch is an error naming its partition, never records.
func TestDecodeRecordBatchesRefusesDamage(t *testing.T) {
	data := golden.RecordBatches(t)
	bad := append([]byte(nil), data...)
	bad[len(bad)-1] ^= 1
	for name, bs := range map[string][]RecordBatches{
		"checksum":  {{Partition: 0, Data: data}, {Partition: 7, Data: bad}},
		"truncated": {{Partition: 7, Data: data[:len(data)-1]}},
		"garbage":   {{Partition: 7, Data: []byte("not a batch at all, but long enough for a header")}},
	} {
		recs, err := DecodeRecordBatches(bs)
		if !errors.Is(err, recordbatch.ErrCorrupt) || !strings.Contains(err.Error(), "partition 7") || recs != nil {
			t.Errorf("%s: %d records, %v; want ErrCorrupt naming partition 7", name, len(recs), err)
		}
	}
}

func FuzzDecodeRecordBatches(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := DecodeRecordBatches([]RecordBatches{{Partition: 1, Data: data}})
		var want []recordbatch.Record
		werr := recordbatch.Decode(data, func(r *recordbatch.Record) { want = append(want, *r) })
		if (err == nil) != (werr == nil) {
			t.Fatalf("DecodeRecordBatches: %v; recordbatch.Decode: %v", err, werr)
		}
		if err != nil {
			return
		}
		if len(recs) != len(want) || len(recs) > len(data)/5 {
			t.Fatalf("%d records, recordbatch.Decode has %d, input %d bytes", len(recs), len(want), len(data))
		}
		for i, r := range recs {
			w := want[i]
			if r.Partition != 1 || r.Offset != w.Offset || string(r.Key) != string(w.Key) || string(r.Value) != string(w.Value) ||
				(r.Key == nil) != (w.Key == nil) || (r.Value == nil) != (w.Value == nil) || len(r.Headers) != len(w.Headers) {
				t.Fatalf("record %d: %+v, want %+v", i, r, w)
			}
			if w.Timestamp != 0 && r.Timestamp.UnixNano() != w.Timestamp {
				t.Fatalf("record %d: timestamp %v, want %d", i, r.Timestamp, w.Timestamp)
			}
		}
	})
}

// fakeSink is the plugin's Sink service as a client sees it.
type fakeSink struct {
	pb.SinkClient
	batches bool
	got     *pb.SinkWriteRequest
}

func (f *fakeSink) Open(context.Context, *pb.SinkOpenRequest, ...grpc.CallOption) (*pb.SinkOpenResponse, error) {
	return &pb.SinkOpenResponse{RecordBatches: f.batches}, nil
}

func (f *fakeSink) Write(_ context.Context, req *pb.SinkWriteRequest, _ ...grpc.CallOption) (*pb.SinkWriteResponse, error) {
	f.got = req
	return &pb.SinkWriteResponse{Failed: []*pb.RecordError{{Index: 2, Message: "bad record"}}}, nil
}

// A host sends record batches only to a plugin whose Open said it takes
// them; a plugin of an older SDK never gets batches it would not see.
func TestSinkClientSendsBatchesOnlyWhenTaken(t *testing.T) {
	data := golden.RecordBatches(t)
	bs := []RecordBatches{{Partition: 2, Data: data}}

	old := &SinkClient{c: &fakeSink{}}
	if _, err := old.Open(t.Context(), SinkInfo{}); err != nil {
		t.Fatal(err)
	}
	if old.TakesRecordBatches() {
		t.Fatal("a plugin that did not say so takes record batches")
	}
	if err := old.WriteRecordBatches(t.Context(), bs); !errors.Is(err, ErrUnimplemented) {
		t.Fatalf("WriteRecordBatches to a plugin without them = %v, want ErrUnimplemented", err)
	}

	fake := &fakeSink{batches: true}
	k := &SinkClient{c: fake}
	if _, err := k.Open(t.Context(), SinkInfo{}); err != nil {
		t.Fatal(err)
	}
	if !k.TakesRecordBatches() {
		t.Fatal("the plugin said it takes record batches")
	}
	err := k.WriteRecordBatches(t.Context(), bs)
	var be *BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || be.Failed[2] == nil {
		t.Fatalf("WriteRecordBatches = %v, want a BatchError for record 2", err)
	}
	if got := fake.got.GetBatches(); len(got) != 1 || got[0].GetPartition() != 2 || string(got[0].GetData()) != string(data) ||
		len(fake.got.GetPackedRecords()) != 0 || len(fake.got.GetRecords()) != 0 {
		t.Fatalf("sent %v, want the batches as given", fake.got)
	}
}

// BenchmarkDecodeRecordBatches decodes what a sink receives in one Write
// of the plugin benchmark: 10,000 records of 128 bytes in batches of 1,000.
func BenchmarkDecodeRecordBatches(b *testing.B) {
	bs := make([]RecordBatches, 10)
	for i := range bs {
		bs[i] = RecordBatches{Data: encodeTestBatch(uint64(i)*1000, 1000, 128)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		recs, err := DecodeRecordBatches(bs)
		if err != nil || len(recs) != 10_000 {
			b.Fatal(len(recs), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10_000), "ns/record")
}

// encodeTestBatch encodes one version 1 batch of n records at base with a
// nil key and a value of size bytes, all stamped at the same time.
func encodeTestBatch(base uint64, n, size int) []byte {
	const ts = 1700000000000000000
	dst := binary.BigEndian.AppendUint64(nil, base)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0, recordbatch.Version, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	dst = binary.BigEndian.AppendUint64(dst, ts)
	dst = binary.BigEndian.AppendUint64(dst, ts)
	value := make([]byte, size)
	for i := range n {
		dst = binary.AppendVarint(dst, int64(i))
		dst = binary.AppendVarint(dst, 0)
		dst = binary.AppendVarint(dst, -1)
		dst = binary.AppendVarint(dst, int64(size))
		dst = append(dst, value...)
		dst = binary.AppendVarint(dst, 0)
	}
	binary.BigEndian.PutUint32(dst[8:], uint32(len(dst)-12))
	binary.BigEndian.PutUint32(dst[12:], crc32.Checksum(dst[16:], crc32.MakeTable(crc32.Castagnoli)))
	return dst
}
