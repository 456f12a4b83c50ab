package seglog

import (
	"context"
	"fmt"
	"hash/crc32"
)

// EnqueueBatch is Enqueue for records already encoded as one batch (by
// EncodeBatch, every timestamp set), such as a replica receives from the
// writer of the entry: the batch is copied as it is, its base offset
// replaced by the one the log assigns, so every replica stores the same
// bytes without decoding and encoding them again. Its header, length and
// checksum are verified, not its records: pass a batch DecodeBatch took.
func (l *Log) EnqueueBatch(ctx context.Context, batch []byte) (*Pending, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(batch) < batchHeaderSize {
		return nil, corruptf("batch of %d bytes is shorter than its header", len(batch))
	}
	h, err := parseHeader(batch)
	if err != nil {
		return nil, err
	}
	if h.size() != len(batch) {
		return nil, corruptf("batch header says %d bytes, got %d", h.size(), len(batch))
	}
	if crc32.Checksum(batch[offMagic:], castagnoli) != h.crc {
		return nil, corruptf("batch at offset %d: crc mismatch", h.baseOffset)
	}
	if len(batch) > maxBatchBytes {
		return nil, fmt.Errorf("seglog: batch of %d bytes exceeds the limit of %d", len(batch), maxBatchBytes)
	}
	r := reqPool.Get().(*appendReq)
	r.buf = append(r.buf[:0], batch...)
	r.count, r.baseTS, r.maxTS = h.count, h.baseTS, h.maxTS
	if err := l.enqueue(r); err != nil {
		l.putReq(r)
		return nil, err
	}
	return &Pending{l: l, r: r}, nil
}
