package connector

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	pb "github.com/junctionhq/junction/sdk/proto/connectorv1"
)

// offsetSink records the offsets it writes and fails the write holding
// failOffset.
type offsetSink struct {
	UnimplementedSink
	failOffset uint64
	mu         sync.Mutex
	written    []uint64
}

func (s *offsetSink) Open(context.Context, SinkInfo) (map[uint32]uint64, error) { return nil, nil }

func (s *offsetSink) Write(_ context.Context, recs []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		if r.Offset == s.failOffset {
			return errors.New("destination refused the batch")
		}
		s.written = append(s.written, r.Offset)
	}
	return nil
}

func orderedWrite(seq, offset uint64) *pb.SinkWriteRequest {
	return &pb.SinkWriteRequest{Seq: seq, Records: []*pb.Record{{Offset: offset}}}
}

// Ordered writes run in seq order whatever order they arrive in, and once
// one failed the later ones are refused unwritten until the next Open.
func TestOrderedWritesRunInSeqOrderAndStopAtAFailure(t *testing.T) {
	sink := &offsetSink{failOffset: 3}
	srv := newServer(Definition{Name: "t"}, nil)
	srv.sink = sink
	k := sinkServer{s: srv}
	ctx := t.Context()
	resp, err := k.Open(ctx, &pb.SinkOpenRequest{})
	if err != nil || !resp.GetOrderedWrites() {
		t.Fatalf("Open = %v, %v; want ordered writes", resp, err)
	}

	second := make(chan error, 1)
	go func() { _, err := k.Write(ctx, orderedWrite(2, 2)); second <- err }()
	// Write 2 waits for write 1, however long it takes to arrive.
	select {
	case err := <-second:
		t.Fatalf("write 2 returned (%v) before write 1 arrived", err)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := k.Write(ctx, orderedWrite(1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if _, err := k.Write(ctx, orderedWrite(3, 3)); err == nil {
		t.Fatal("write 3 succeeded; the sink refused it")
	}
	if _, err := k.Write(ctx, orderedWrite(4, 4)); err == nil {
		t.Fatal("write 4 succeeded after write 3 failed")
	}
	if _, err := k.Write(ctx, orderedWrite(2, 2)); err == nil {
		t.Fatal("write 2 ran twice")
	}
	if _, err := k.Open(ctx, &pb.SinkOpenRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Write(ctx, orderedWrite(1, 5)); err != nil {
		t.Fatalf("first write after a new Open: %v", err)
	}
	if got := sink.written; len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 5 {
		t.Fatalf("written offsets = %v, want [1 2 5]", got)
	}
}

// A write that gives up waiting for its turn ends the order: no write of
// it runs any more, not even the one it waited for.
func TestOrderedWriteGivingUpEndsTheOrder(t *testing.T) {
	sink := &offsetSink{failOffset: 99}
	srv := newServer(Definition{Name: "t"}, nil)
	srv.sink = sink
	k := sinkServer{s: srv}
	if _, err := k.Open(t.Context(), &pb.SinkOpenRequest{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := k.Write(ctx, orderedWrite(2, 2)); err == nil {
		t.Fatal("write 2 with its context done succeeded")
	}
	if _, err := k.Write(t.Context(), orderedWrite(1, 1)); err == nil {
		t.Fatal("write 1 ran after write 2 gave up; later writes were already lost")
	}
	if len(sink.written) != 0 {
		t.Fatalf("written = %v, want nothing", sink.written)
	}
}

// A write still waiting for its turn when the sink is opened again is
// refused, not run as a write of the new order.
func TestOrderedWriteWaitingAcrossAnOpenIsRefused(t *testing.T) {
	sink := &offsetSink{failOffset: 99}
	srv := newServer(Definition{Name: "t"}, nil)
	srv.sink = sink
	k := sinkServer{s: srv}
	if _, err := k.Open(t.Context(), &pb.SinkOpenRequest{}); err != nil {
		t.Fatal(err)
	}
	waiting := make(chan error, 1)
	go func() { _, err := k.Write(t.Context(), orderedWrite(2, 2)); waiting <- err }()
	deadline := time.Now().Add(10 * time.Second)
	// Open until the write, waiting in whichever order it joined, is
	// refused.
	for time.Now().Before(deadline) {
		if _, err := k.Open(t.Context(), &pb.SinkOpenRequest{}); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-waiting:
			if err == nil {
				t.Fatal("the waiting write ran after the sink was opened again")
			}
			if len(sink.written) != 0 {
				t.Fatalf("written = %v, want nothing", sink.written)
			}
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatal("the waiting write was never refused")
}
