package broker

import "sync"

// recordPool recycles the record slices a produce hands to
// PartitionLog.Enqueue, which does not retain them.
var recordPool = sync.Pool{New: func() any { return new([]Record) }}

// maxPooledRecords bounds the slices recordPool keeps.
const maxPooledRecords = 4096

func getRecords() *[]Record { return recordPool.Get().(*[]Record) }

func putRecords(recs *[]Record) {
	if cap(*recs) > maxPooledRecords {
		return
	}
	clear((*recs)[:cap(*recs)]) // they point into the producer's request
	*recs = (*recs)[:0]
	recordPool.Put(recs)
}
