package plugin

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"
)

// Counts are what a connector moved: records read from its input side,
// written to its output side and sent to its dead-letter station, the
// bytes of their keys and values, and the runs that ended in an error.
type Counts struct {
	RecordsIn  uint64 `json:"records_in"`
	RecordsOut uint64 `json:"records_out"`
	Rejected   uint64 `json:"records_rejected"`
	BytesIn    uint64 `json:"bytes_in"`
	BytesOut   uint64 `json:"bytes_out"`
	Errors     uint64 `json:"errors"`
}

// sub returns c - base, field by field.
func (c Counts) sub(base Counts) Counts {
	return Counts{
		RecordsIn: c.RecordsIn - base.RecordsIn, RecordsOut: c.RecordsOut - base.RecordsOut, Rejected: c.Rejected - base.Rejected,
		BytesIn: c.BytesIn - base.BytesIn, BytesOut: c.BytesOut - base.BytesOut, Errors: c.Errors - base.Errors,
	}
}

// counters are a connector's Counts since it was created, updated as it
// runs.
type counters struct {
	in, out, rejected, bytesIn, bytesOut, errors atomic.Uint64
}

func (c *counters) load() Counts {
	return Counts{
		RecordsIn: c.in.Load(), RecordsOut: c.out.Load(), Rejected: c.rejected.Load(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(), Errors: c.errors.Load(),
	}
}

func (c *counters) set(v Counts) {
	c.in.Store(v.RecordsIn)
	c.out.Store(v.RecordsOut)
	c.rejected.Store(v.Rejected)
	c.bytesIn.Store(v.BytesIn)
	c.bytesOut.Store(v.BytesOut)
	c.errors.Store(v.Errors)
}

// totalsEvery is how often a sink stores its counters while it runs; a
// source stores them with every checkpoint.
const totalsEvery = time.Second

// loadTotals sets r's counters to those stored for the connector: with a
// source's checkpoint, or alone for a sink.
func (r *runner) loadTotals() {
	cp, err := loadCheckpoint(r.h.store, r.def.Name)
	if err != nil {
		r.log.Warn("counters since creation not loaded; counting from 0", "err", err)
		return
	}
	if cp.Totals != nil {
		r.total.set(*cp.Totals)
	}
}

// storeSinkTotals stores a sink's counters in its checkpoint slot (a sink
// keeps its position in its consumer group, not there). Counts since the
// last store are lost in a crash, like the acks of records the sink then
// writes again.
func (r *runner) storeSinkTotals() error {
	t := r.total.load()
	raw, err := json.Marshal(checkpoint{Totals: &t})
	if err != nil {
		return err
	}
	if err := r.h.store.PutCheckpoint(r.def.Name, raw); err != nil {
		return fmt.Errorf("connector %s: store counters: %w", r.def.Name, err)
	}
	return nil
}

// recordBytes is the size of a record's key and value.
func recordBytes(key, value []byte) uint64 { return uint64(len(key) + len(value)) }
