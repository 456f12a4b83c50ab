package broker

import (
	"errors"
	"fmt"

	"github.com/junctionhq/junction/broker/seglog"
)

var _ BatchReader = segLog{}

// ReadBatches hands out the segment log's stored batches; see
// seglog.Log.ReadBatches.
func (s segLog) ReadBatches(from uint64, maxBytes int) ([]byte, uint64, error) {
	b, next, err := s.l.ReadBatches(from, maxBytes)
	if errors.Is(err, seglog.ErrOffsetOutOfRange) {
		return nil, next, fmt.Errorf("%w: %w", ErrOffsetOutOfRange, err)
	}
	return b, next, err
}

// rawSpan is one stored batch as its log encoded it, holding the offsets
// [base, next). data is never modified.
type rawSpan struct {
	base, next uint64
	data       []byte
	bytes      int // keys, values and headers, once handed out whole
	kvBytes    int // keys and values, once handed out whole
}

// readAhead reads records of l from `from` on, about budget bytes of them,
// as Read does, and when l is a BatchReader also the encoded batches they
// came from, which a batch pull can send as they are. Whatever the batch
// path cannot serve (damage, lost offsets, odd sizes) Read serves.
func readAhead(l PartitionLog, from uint64, budget int) ([]Record, []rawSpan, error) {
	if br, ok := l.(BatchReader); ok {
		data, _, err := br.ReadBatches(from, budget)
		switch {
		case errors.Is(err, ErrOffsetOutOfRange):
			return nil, nil, err
		case err == nil && len(data) == 0:
			return []Record{}, nil, nil
		case err == nil:
			recs, bs, derr := seglog.DecodeBatches(data, from)
			if derr == nil {
				spans := make([]rawSpan, len(bs))
				for i, b := range bs {
					spans[i] = rawSpan{base: b.Base, next: b.Next, data: data[b.Start:b.End:b.End]}
				}
				return recs, spans, nil
			}
			// Read reads it again and records the damage.
		}
	}
	recs, err := l.Read(from, budget)
	return recs, nil, err
}

// spanOf returns the batch of p's read-ahead holding off, dropping those
// before it, or nil. g.mu is held.
func (p *groupPart) spanOf(off uint64) *rawSpan {
	for len(p.spans) > 0 && p.spans[0].next <= off {
		p.spans = p.spans[1:]
	}
	if len(p.spans) > 0 && p.spans[0].base <= off {
		return &p.spans[0]
	}
	return nil
}

// wholeBatches returns how many of the first n records of p's read-ahead
// to hand out so as to end at the end of a stored batch: the most up to n
// that do, or n when none does. g.mu is held.
func (p *groupPart) wholeBatches(n int) int {
	if len(p.spans) == 0 || n == 0 {
		return n
	}
	// Records with batches are consecutive offsets.
	first := p.ahead[0].Offset
	limit := first + uint64(n)
	m := 0
	for _, s := range p.spans {
		if s.next > limit {
			break
		}
		if s.next > first {
			m = int(s.next - first)
		}
	}
	if m == 0 {
		return n
	}
	return m
}
