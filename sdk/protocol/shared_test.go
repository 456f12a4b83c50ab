package protocol

import (
	"context"
	"math/rand/v2"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/junctionhq/junction/sdk/proto/connectorv1"
)

// sharedFake is a plugin's Sink service that may map the shared memory
// region: it reads each write's batches where the request says they lie,
// and fails the writes its fail function picks.
type sharedFake struct {
	pb.SinkClient
	shared bool
	mem    []byte
	fail   func(n int) error
	writes int
	got    []*pb.SinkWriteRequest
	data   [][]RecordBatches // the batches each write found, copied
}

func (f *sharedFake) Open(context.Context, *pb.SinkOpenRequest, ...grpc.CallOption) (*pb.SinkOpenResponse, error) {
	return &pb.SinkOpenResponse{RecordBatches: true, OrderedWrites: true, SharedMemory: f.shared}, nil
}

func (f *sharedFake) Write(_ context.Context, req *pb.SinkWriteRequest, _ ...grpc.CallOption) (*pb.SinkWriteResponse, error) {
	f.writes++
	f.got = append(f.got, req)
	bs := RecordBatchesFromPB(req.GetBatches())
	if len(req.GetShared()) > 0 {
		var err error
		if bs, err = SharedBatches(f.mem, req.GetShared()); err != nil {
			return nil, err
		}
	}
	var found []RecordBatches
	for _, b := range bs {
		found = append(found, RecordBatches{Partition: b.Partition, Data: append([]byte(nil), b.Data...)})
	}
	f.data = append(f.data, found)
	if f.fail != nil {
		if err := f.fail(f.writes); err != nil {
			return nil, err
		}
	}
	return &pb.SinkWriteResponse{}, nil
}

func testBatches(seed uint64, parts, size int) []RecordBatches {
	rng := rand.New(rand.NewPCG(seed, 1))
	bs := make([]RecordBatches, parts)
	for i := range bs {
		bs[i].Partition = uint32(i)
		bs[i].Data = make([]byte, size)
		for j := range bs[i].Data {
			bs[i].Data[j] = byte(rng.Uint32())
		}
	}
	return bs
}

func sameBatches(a, b []RecordBatches) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Partition != b[i].Partition || string(a[i].Data) != string(b[i].Data) {
			return false
		}
	}
	return true
}

// A plugin that mapped the region gets every write's batches there, intact,
// and parts of the region are reused once writes returned; a plugin that
// did not (an older SDK, another platform) gets their bytes.
func TestSinkClientSharesMemoryOnlyWhenTaken(t *testing.T) {
	mem := make([]byte, 10_000)
	for _, shared := range []bool{false, true} {
		fake := &sharedFake{shared: shared, mem: mem}
		k := &SinkClient{c: fake}
		k.UseSharedMemory(mem)
		if _, err := k.Open(t.Context(), SinkInfo{}); err != nil {
			t.Fatal(err)
		}
		if k.SharesMemory() != shared {
			t.Fatalf("SharesMemory = %v after an Open answering %v", k.SharesMemory(), shared)
		}
		for i := range 20 {
			bs := testBatches(uint64(i), 1+i%3, 1000+i)
			if err := <-k.StartRecordBatches(t.Context(), bs); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
			req := fake.got[i]
			if shared == (len(req.GetShared()) == 0) || shared == (len(req.GetBatches()) > 0) || req.GetSeq() != uint64(i+1) {
				t.Fatalf("shared %v, write %d sent %d shared and %d batches, seq %d", shared, i, len(req.GetShared()), len(req.GetBatches()), req.GetSeq())
			}
			if !sameBatches(fake.data[i], bs) {
				t.Fatalf("shared %v: write %d found other batches than were written", shared, i)
			}
		}
	}
}

// A write larger than the region, or finding no part of it free, sends its
// bytes; the part of a failed write stays in use, because the plugin may
// still be reading it.
func TestSinkClientFallsBackToBytes(t *testing.T) {
	mem := make([]byte, 4096)
	fake := &sharedFake{shared: true, mem: mem}
	k := &SinkClient{c: fake}
	k.UseSharedMemory(mem)
	if _, err := k.Open(t.Context(), SinkInfo{}); err != nil {
		t.Fatal(err)
	}
	big := testBatches(1, 1, 5000)
	if err := k.WriteRecordBatches(t.Context(), big); err != nil {
		t.Fatal(err)
	}
	if len(fake.got[0].GetShared()) != 0 || !sameBatches(fake.data[0], big) {
		t.Fatal("a write larger than the region did not send its bytes")
	}

	fake.fail = func(n int) error {
		if n == 2 {
			return status.Error(codes.Unavailable, "plugin went away")
		}
		return nil
	}
	if err := k.WriteRecordBatches(t.Context(), testBatches(2, 1, 3000)); err == nil {
		t.Fatal("the failing write succeeded")
	}
	if len(fake.got[1].GetShared()) != 1 {
		t.Fatal("the second write did not go through shared memory")
	}
	for i := range 4 {
		bs := testBatches(uint64(3+i), 2, 500)
		if err := k.WriteRecordBatches(t.Context(), bs); err != nil {
			t.Fatal(err)
		}
		req := fake.got[2+i]
		if !sameBatches(fake.data[2+i], bs) {
			t.Fatalf("write %d after the failed one arrived changed", i)
		}
		if i == 0 && len(req.GetShared()) == 0 {
			t.Fatal("the write after the failed one did not use the free part of the region")
		}
		if len(req.GetShared()) > 0 && req.GetShared()[0].GetOffset() < 3000 {
			t.Fatalf("write %d after the failed one went to offset %d, where the failed write may still be read", i, req.GetShared()[0].GetOffset())
		}
	}
}

// The ring never hands out a part in use, whatever order writes return in.
func TestRingNeverOverlaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	r := &ring{size: 1000}
	owner := make([]int, r.size) // which live span holds each byte, 0 for none
	type live struct{ off, n, id int }
	var spans []live
	id := 0
	for range 100_000 {
		if len(spans) > 0 && rng.IntN(2) == 0 {
			i := rng.IntN(len(spans))
			s := spans[i]
			for b := s.off; b < s.off+s.n; b++ {
				owner[b] = 0
			}
			r.release(s.off)
			spans = append(spans[:i], spans[i+1:]...)
			continue
		}
		n := 1 + rng.IntN(400)
		off, ok := r.alloc(n)
		if !ok {
			if len(spans) == 0 {
				t.Fatalf("alloc(%d) of an empty ring failed", n)
			}
			continue
		}
		if off < 0 || off+n > r.size {
			t.Fatalf("alloc(%d) = %d, outside the ring", n, off)
		}
		id++
		for b := off; b < off+n; b++ {
			if owner[b] != 0 {
				t.Fatalf("alloc(%d) = %d overlaps span %d at byte %d", n, off, owner[b], b)
			}
			owner[b] = id
		}
		spans = append(spans, live{off, n, id})
	}
	if _, ok := r.alloc(0); ok {
		t.Fatal("alloc(0) succeeded")
	}
	if _, ok := r.alloc(r.size + 1); ok {
		t.Fatal("alloc beyond the ring succeeded")
	}
}

// Writes of one size, two in flight, take turns in two parts of the
// region, however large it is: the memory they touch stays what they need.
func TestRingReusesTheStart(t *testing.T) {
	r := &ring{size: 100}
	used := map[int]bool{}
	prev, _ := r.alloc(10)
	for range 50 {
		off, ok := r.alloc(10)
		if !ok {
			t.Fatal("alloc failed with one write in flight")
		}
		used[off] = true
		r.release(prev)
		prev = off
	}
	if len(used) != 2 || !used[0] || !used[10] {
		t.Fatalf("writes used offsets %v, want 0 and 10", used)
	}
}

// SharedBatches refuses whatever lies outside the region, and never
// returns bytes beyond it.
func FuzzSharedBatches(f *testing.F) {
	f.Add(uint32(0), uint64(0), uint64(10), uint64(10), uint64(0))
	f.Add(uint32(3), uint64(90), uint64(10), uint64(0), uint64(100))
	f.Add(uint32(1), uint64(1<<63), uint64(1<<63), uint64(5), uint64(5))
	f.Add(uint32(1), uint64(101), uint64(0), uint64(18446744073709551615), uint64(1))
	f.Fuzz(func(t *testing.T, part uint32, off1, len1, off2, len2 uint64) {
		mem := make([]byte, 100)
		shared := []*pb.SharedRecordBatches{{Partition: part, Offset: off1, Length: len1}, {Offset: off2, Length: len2}}
		bs, err := SharedBatches(mem, shared)
		inside := func(off, n uint64) bool { return off <= 100 && n <= 100-off }
		if want := inside(off1, len1) && inside(off2, len2); (err == nil) != want {
			t.Fatalf("SharedBatches(%d+%d, %d+%d) = %v, want ok %v", off1, len1, off2, len2, err, want)
		}
		if err != nil {
			return
		}
		if bs[0].Partition != part || uint64(len(bs[0].Data)) != len1 || uint64(cap(bs[0].Data)) != len1 || uint64(len(bs[1].Data)) != len2 {
			t.Fatalf("SharedBatches = %+v", bs)
		}
	})
}
