package plugin

import (
	"github.com/junctionhq/junction/plugin/config"
)

// offerSharedMemory says whether sink plugins are offered a shared memory
// region for their record batches; tests turn it off to drive the path
// over gRPC through the same plugin binaries.
var offerSharedMemory = true

// sharedMemoryBytes is the size of the shared memory region of a sink with
// batch limits lim: room for writeDepth writes in flight and one more, each
// as large as a batch of the limits' size may encode to. A write that
// finds no room travels over gRPC instead, so the estimate bounds memory,
// not correctness.
func sharedMemoryBytes(lim config.Batch) int {
	const (
		perRecord = 64 // a record's framing in a record batch, headers aside
		minBytes  = 1 << 20
		maxBytes  = 128 << 20
	)
	write := lim.MaxBytes + int64(lim.MaxRecords)*perRecord
	return int(min(max((writeDepth+1)*write, minBytes), maxBytes))
}
