package broker

import "math/bits"

// ackWindow records which offsets at or above a partition's committed offset
// have been acknowledged, one bit per offset, so the committed offset (the
// lowest unacknowledged one) advances in amortised constant time however
// acks arrive. Its size is bounded by how far deliveries run ahead of the
// oldest unacknowledged message.
type ackWindow struct {
	base  uint64 // offset of bit 0 of words[0]; a multiple of 64
	words []uint64
}

func newAckWindow(commit uint64) ackWindow {
	return ackWindow{base: commit &^ 63}
}

func (w *ackWindow) set(off uint64) {
	if off < w.base {
		return
	}
	i := (off - w.base) / 64
	for uint64(len(w.words)) <= i {
		w.words = append(w.words, 0)
	}
	w.words[i] |= 1 << ((off - w.base) % 64)
}

// setRange sets the offsets [from, to) and returns how many of them were
// not set before; offsets below the window are left alone.
func (w *ackWindow) setRange(from, to uint64) int {
	from = max(from, w.base)
	if from >= to {
		return 0
	}
	if need := int((to-1-w.base)/64) + 1 - len(w.words); need > 0 {
		w.words = append(w.words, make([]uint64, need)...)
	}
	n := 0
	for off := from; off < to; {
		i := (off - w.base) / 64
		lo := (off - w.base) % 64
		width := min(64-lo, to-off)
		mask := ^uint64(0) >> (64 - width) << lo
		n += bits.OnesCount64(mask &^ w.words[i])
		w.words[i] |= mask
		off += width
	}
	return n
}

// has reports whether off is set; offsets below the window count as set.
func (w *ackWindow) has(off uint64) bool {
	if off < w.base {
		return true
	}
	i := (off - w.base) / 64
	return i < uint64(len(w.words)) && w.words[i]&(1<<((off-w.base)%64)) != 0
}

// advance returns the lowest offset >= commit that is not set, and forgets
// every bit below it.
func (w *ackWindow) advance(commit uint64) uint64 {
	for {
		if commit < w.base {
			commit = w.base
		}
		i := (commit - w.base) / 64
		if i >= uint64(len(w.words)) {
			break
		}
		shift := (commit - w.base) % 64
		if tz := uint64(bits.TrailingZeros64(^(w.words[i] >> shift))); tz < 64-shift {
			commit += tz
			break
		}
		commit += 64 - shift
	}
	if drop := (commit - w.base) / 64; drop > 0 {
		if drop >= uint64(len(w.words)) {
			w.words = w.words[:0]
		} else {
			w.words = append(w.words[:0], w.words[drop:]...)
		}
		w.base += drop * 64
	}
	return commit
}

// reset forgets everything and restarts the window at commit.
func (w *ackWindow) reset(commit uint64) {
	w.base = commit &^ 63
	w.words = w.words[:0]
}
