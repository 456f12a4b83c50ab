package protocol

import (
	"fmt"
	"sync"

	pb "github.com/junctionhq/junction/sdk/proto/connectorv1"
)

// EnvSharedMemoryFD names the environment variable through which a host
// tells a sink plugin, on Linux, which of its file descriptors is the
// shared memory region for record batches (see SinkClient.UseSharedMemory).
// The plugin maps the region read-only, closes the descriptor and removes
// the variable before any connector code runs.
const EnvSharedMemoryFD = "JUNCTION_CONNECTOR_SHM_FD"

// MaxSharedMemoryBytes is the largest shared memory region a plugin maps.
const MaxSharedMemoryBytes = 1 << 30

// SharedBatches returns the record batches the shared entries locate in
// mem, the plugin's mapping of the shared memory region, aliasing mem. An
// entry outside mem is an error naming it.
func SharedBatches(mem []byte, shared []*pb.SharedRecordBatches) ([]RecordBatches, error) {
	out := make([]RecordBatches, len(shared))
	for i, s := range shared {
		off, n := s.GetOffset(), s.GetLength()
		if off > uint64(len(mem)) || n > uint64(len(mem))-off {
			return nil, fmt.Errorf("shared record batches %d: bytes %d+%d lie outside the %d-byte shared memory region", i, off, n, len(mem))
		}
		out[i] = RecordBatches{Partition: s.GetPartition(), Data: mem[off : off+n : off+n]}
	}
	return out, nil
}

// ring hands out spans of a shared memory region to writes in flight, in
// the order they are sent, and takes them back in any order: a span is
// reused only after the write that used it is released, and every span
// allocated after an unreleased one waits behind it. It goes back to the
// start of the region as soon as there is room there, so that writes
// that keep the same size touch only the memory they need.
type ring struct {
	size int

	mu    sync.Mutex
	spans []span // in use, oldest first
}

type span struct {
	off, end int
	released bool
}

// alloc returns the offset of n free bytes, or false when they are not
// free now (or n is 0 or larger than the region).
func (r *ring) alloc(n int) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n <= 0 || n > r.size {
		return 0, false
	}
	off := 0
	if len(r.spans) > 0 {
		first, last := r.spans[0], r.spans[len(r.spans)-1]
		switch {
		case last.off >= first.off && n <= first.off:
			off = 0
		case last.off >= first.off && last.end+n <= r.size:
			off = last.end
		case last.off < first.off && last.end+n <= first.off:
			off = last.end
		default:
			return 0, false
		}
	}
	r.spans = append(r.spans, span{off: off, end: off + n})
	return off, true
}

// release gives back the span allocated at off, and with it every span
// released before that was waiting behind an older one.
func (r *ring) release(off int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.spans {
		if r.spans[i].off == off && !r.spans[i].released {
			r.spans[i].released = true
			break
		}
	}
	i := 0
	for i < len(r.spans) && r.spans[i].released {
		i++
	}
	r.spans = append(r.spans[:0], r.spans[i:]...)
}
