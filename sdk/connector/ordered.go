package connector

import (
	"context"
	"fmt"
)

// writeOrder runs a sink's ordered writes (SinkWriteRequest.seq) one at a
// time in seq order, whatever order the host's calls arrive in, so the host
// can send the next batch while the sink writes this one. A write that
// fails, or gives up waiting for its turn, ends the order: every later
// write is refused unwritten until the next Open resets it. Until the
// first Open (resetOrder) every ordered write is refused.
//
// The fields are guarded by the server's mu.
type writeOrder struct {
	next uint64        // seq of the write whose turn it is
	turn chan struct{} // closed when next or err changes
	err  error         // why the order ended
	gen  uint64        // how many Opens started an order
}

// resetOrder starts a new order after an Open: the next write is seq 1. A
// write of the previous order still waiting is refused.
func (s *server) resetOrder() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.order.turn != nil {
		close(s.order.turn)
	}
	s.order = writeOrder{next: 1, turn: make(chan struct{}), gen: s.order.gen + 1}
}

// awaitTurn blocks until write seq may run and returns the turn to hand
// to endTurn once it ran. It fails when an earlier write failed, when seq
// was already written or refused, and when ctx ends first (which ends the
// order).
func (s *server) awaitTurn(ctx context.Context, seq uint64) (chan struct{}, error) {
	s.mu.Lock()
	gen := s.order.gen
	s.mu.Unlock()
	for {
		s.mu.Lock()
		o := s.order
		s.mu.Unlock()
		switch {
		case o.gen != gen:
			return nil, fmt.Errorf("write %d refused unwritten: the sink was opened again: %w", seq, ErrRetryable)
		case o.turn == nil:
			return nil, fmt.Errorf("write %d: the sink is not open: %w", seq, ErrRetryable)
		case o.err != nil:
			return nil, fmt.Errorf("write %d refused unwritten: an earlier write failed: %v: %w", seq, o.err, ErrRetryable)
		case seq < o.next:
			return nil, Fatal(fmt.Errorf("write %d: the sink is at write %d: the host sent a write twice", seq, o.next))
		case seq == o.next:
			return o.turn, nil
		}
		select {
		case <-o.turn:
		case <-ctx.Done():
			err := fmt.Errorf("write %d gave up waiting for its turn: %w", seq, ctx.Err())
			s.endTurn(seq, o.turn, err)
			return nil, err
		}
	}
}

// endTurn records the outcome of write seq of the order whose turn channel
// is turn (an order reset since is left alone): the next write's turn on
// success, the end of the order on err.
func (s *server) endTurn(seq uint64, turn chan struct{}, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := &s.order
	if o.turn != turn || o.err != nil {
		return
	}
	switch {
	case err != nil:
		o.err = err
	case seq == o.next:
		o.next++
	default:
		return
	}
	close(o.turn)
	o.turn = make(chan struct{})
}
