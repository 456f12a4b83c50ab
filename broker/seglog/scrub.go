package seglog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Scrub reads every segment, oldest first, and verifies every batch's
// checksum and offsets, reading at most bytesPerSecond (0: no limit). What
// it finds bad is recorded as damage (see Status) and logged; reads of
// damaged offsets then fail until Repair. It returns the bytes verified,
// and ctx's error if ctx ended the scrub early.
func (l *Log) Scrub(ctx context.Context, bytesPerSecond int64) (int64, error) {
	l.mu.RLock()
	if l.isClosed {
		l.mu.RUnlock()
		return 0, ErrClosed
	}
	segs := append([]*segment(nil), l.segs...)
	sizes := make([]int64, len(segs))
	for i, s := range segs {
		s.acquire()
		sizes[i] = s.size
	}
	l.mu.RUnlock()
	defer func() {
		for _, s := range segs {
			_ = s.release()
		}
	}()
	start := time.Now()
	var verified, sinceWait int64
	for i, seg := range segs {
		sc := scanner{f: seg.f, end: sizes[i]}
		expect := seg.base
		for {
			at := sc.pos
			h, raw, err := sc.next(true)
			if err == io.EOF {
				break
			}
			if err == nil {
				if h.baseOffset != expect {
					err = corruptf("batch base offset %d, want %d", h.baseOffset, expect)
				} else if !checksumOK(raw, h) {
					err = corruptf("batch at offset %d: crc mismatch", h.baseOffset)
				}
			}
			if err != nil {
				if isNotExist(err) && l.gone(seg) {
					break // retention deleted it meanwhile
				}
				if !errors.Is(err, errTorn) && !IsCorruption(err) {
					return verified, fmt.Errorf("seglog: scrub %s: %w", seg.name(), err)
				}
				var ce *CorruptionError
				if cerr := l.noteCorruption(seg, at, expect, sizes[i], err); !errors.As(cerr, &ce) {
					return verified, cerr
				}
				d := ce.Damage
				if d.Segment != seg.name() || d.Position != at || d.Position+d.Bytes >= sizes[i] {
					break
				}
				sc.pos, expect = d.Position+d.Bytes, d.To
				continue
			}
			expect = h.nextOffset()
			verified += int64(len(raw))
			sinceWait += int64(len(raw))
			if bytesPerSecond > 0 && sinceWait >= 1<<20 {
				sinceWait = 0
				ahead := time.Duration(float64(verified)/float64(bytesPerSecond)*float64(time.Second)) - time.Since(start)
				if err := sleep(ctx, ahead); err != nil {
					return verified, err
				}
			} else if err := ctx.Err(); err != nil {
				return verified, err
			}
		}
	}
	return verified, nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
