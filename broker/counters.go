package broker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// StationCounters are a station's message and byte counts since the broker
// opened: produced (in) and delivered to consumer groups (out,
// redeliveries included).
type StationCounters struct {
	MessagesIn, BytesIn, MessagesOut, BytesOut uint64
}

// Counters returns every station's counters, read from the same counters
// /metrics reports.
func (b *Broker) Counters() map[string]StationCounters {
	sts := b.stationList()
	out := make(map[string]StationCounters, len(sts))
	for _, st := range sts {
		out[st.name] = StationCounters{
			MessagesIn: counterValue(st.m.messagesIn), BytesIn: counterValue(st.m.bytesIn),
			MessagesOut: counterValue(st.m.messagesOut), BytesOut: counterValue(st.m.bytesOut),
		}
	}
	return out
}

func counterValue(c prometheus.Counter) uint64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return uint64(m.GetCounter().GetValue())
}

// OffsetForTime returns the first offset of a station's partition stored
// at or after t, or the partition's next offset when none is.
func (b *Broker) OffsetForTime(stationName string, partition uint32, t time.Time) (uint64, error) {
	st, err := b.station(stationName)
	if err != nil {
		return 0, err
	}
	if int(partition) >= len(st.logs) {
		return 0, fieldErr("partition", "station %q has no partition %d", stationName, partition)
	}
	return st.logs[partition].OffsetForTime(t.UnixNano())
}

// PartitionBounds returns the first stored offset and the next offset of
// a station's partition.
func (b *Broker) PartitionBounds(stationName string, partition uint32) (start, next uint64, err error) {
	st, err := b.station(stationName)
	if err != nil {
		return 0, 0, err
	}
	if int(partition) >= len(st.logs) {
		return 0, 0, fieldErr("partition", "station %q has no partition %d", stationName, partition)
	}
	start, next = st.logs[partition].Bounds()
	return start, next, nil
}
