package main

import (
	"context"
	"errors"
	"sync"
)

// detach takes b out of the buffers records are added to and queues it for
// the next upload.
func (s *sink) detach(b *buffer) {
	delete(s.parts, b.partition)
	s.queue[b.partition] = append(s.queue[b.partition], b)
}

// upload uploads every queued buffer: partitions side by side (at most
// upload.concurrency at a time), each partition's objects one after the
// other in offset order. A partition stops at its first failure and keeps
// that buffer and the ones after it queued, so the bucket never holds an
// object of a partition past one it lacks (Open resumes after the highest
// object), and a retried Write or Teardown uploads them again under the
// same keys.
func (s *sink) upload(ctx context.Context) error {
	switch len(s.queue) {
	case 0:
		return nil
	case 1:
		for p, q := range s.queue {
			sent, err := s.putAll(ctx, q)
			s.sent(p, sent)
			return err
		}
	}
	type result struct {
		p    uint32
		sent int
		err  error
	}
	results := make(chan result, len(s.queue))
	slots := make(chan struct{}, s.cfg.Upload.Concurrency)
	var wg sync.WaitGroup
	for p, q := range s.queue {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			sent, err := s.putAll(ctx, q)
			results <- result{p, sent, err}
		})
	}
	wg.Wait()
	close(results)
	var errs []error
	for r := range results {
		s.sent(r.p, r.sent)
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	return errors.Join(errs...)
}

// putAll uploads q in order and returns how many it uploaded before the
// first failure.
func (s *sink) putAll(ctx context.Context, q []*buffer) (int, error) {
	for i, b := range q {
		if err := s.put(ctx, b); err != nil {
			return i, err
		}
	}
	return len(q), nil
}

// sent forgets the first n queued buffers of partition p, now in the
// bucket.
func (s *sink) sent(p uint32, n int) {
	q := s.queue[p]
	for _, b := range q[:n] {
		s.total -= b.size
	}
	if n == len(q) {
		delete(s.queue, p)
		return
	}
	s.queue[p] = q[n:]
}
