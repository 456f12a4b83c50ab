package connector

import (
	"context"
	"github.com/junctionhq/junction/sdk/internal/golden"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/junctionhq/junction/sdk/proto/connectorv1"
	"github.com/junctionhq/junction/sdk/protocol"
)

// recordSink keeps a copy of every record it is given.
type recordSink struct {
	UnimplementedSink
	got []Record
}

func (s *recordSink) Open(context.Context, SinkInfo) (map[uint32]uint64, error) { return nil, nil }

func (s *recordSink) Write(_ context.Context, recs []Record) error {
	for _, r := range recs {
		r.Key, r.Value = append([]byte(nil), r.Key...), append([]byte(nil), r.Value...)
		s.got = append(s.got, r)
	}
	return nil
}

// A sink whose plugin mapped the shared memory region says so at Open and
// gets the records of batches lying there as it would get them sent; a
// place outside the region is refused as bad input.
func TestSinkServerDecodesSharedBatches(t *testing.T) {
	data := golden.RecordBatches(t)
	want, err := protocol.DecodeRecordBatches([]protocol.RecordBatches{{Partition: 3, Data: data}})
	if err != nil {
		t.Fatal(err)
	}
	mem := make([]byte, 100+len(data))
	copy(mem[100:], data)

	for _, shm := range [][]byte{nil, mem} {
		sink := &recordSink{}
		srv := newServer(Definition{Name: "t"}, nil)
		srv.sink, srv.shm = sink, shm
		k := sinkServer{s: srv}
		resp, err := k.Open(t.Context(), &pb.SinkOpenRequest{})
		if err != nil || resp.GetSharedMemory() != (shm != nil) {
			t.Fatalf("Open with a region of %d bytes = %v, %v", len(shm), resp, err)
		}
		shared := []*pb.SharedRecordBatches{{Partition: 3, Offset: 100, Length: uint64(len(data))}}
		_, err = k.Write(t.Context(), &pb.SinkWriteRequest{Seq: 1, Shared: shared})
		if shm == nil {
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("shared write without a region = %v, want InvalidArgument", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(sink.got) != len(want) {
			t.Fatalf("sink got %d records, want %d", len(sink.got), len(want))
		}
		for i, r := range sink.got {
			if r.Partition != 3 || r.Offset != want[i].Offset || string(r.Key) != string(want[i].Key) || string(r.Value) != string(want[i].Value) || !r.Timestamp.Equal(want[i].Timestamp) {
				t.Fatalf("record %d = %+v, want %+v", i, r, want[i])
			}
		}
		// A fresh Open: the failed write below must not be refused for
		// an earlier one.
		if _, err := k.Open(t.Context(), &pb.SinkOpenRequest{}); err != nil {
			t.Fatal(err)
		}
		shared[0].Offset = 101
		if _, err := k.Write(t.Context(), &pb.SinkWriteRequest{Seq: 1, Shared: shared}); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("write of batches reaching past the region = %v, want InvalidArgument", err)
		}
	}
}
