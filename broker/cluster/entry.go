package cluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/broker/seglog"
	"github.com/junctionhq/junction/internal/names"
)

// The kinds of raft entries, the first byte of each.
const (
	// kindAppend appends one produce batch to a partition:
	// kind, station name length (uint16), station, partition (uint32),
	// then the records as one segment-log batch (seglog.EncodeBatch) whose
	// base offset is the offset the leader expects the batch to land at
	// and whose timestamps the leader stamped.
	kindAppend byte = 1
	// kindStation is a broker.StationChange, JSON.
	kindStation byte = 2
	// kindNode registers a node's addresses (nodeInfo, JSON).
	kindNode byte = 3
	// kindForget drops a removed node's addresses (its id).
	kindForget byte = 4
	// kindGroups is a write to the consumer group store (groupWrite,
	// JSON).
	kindGroups byte = 5
)

// errBadEntry is matched by errors decoding a raft entry.
var errBadEntry = errors.New("bad cluster entry")

// appendEntry is a decoded kindAppend entry: its batch's header is
// checked, its records are decoded (and its checksum verified) only when
// asked for, since a log that takes encoded batches verifies the checksum
// itself and needs no records.
type appendEntry struct {
	station   string
	partition uint32
	base      uint64
	count     uint32
	// batch is the encoded batch; records alias it.
	batch []byte
	recs  []broker.Record // decoded by records
}

// records decodes the entry's records, verifying the batch checksum.
func (e *appendEntry) records() ([]broker.Record, error) {
	if e.recs != nil {
		return e.recs, nil
	}
	recs, _, err := seglog.DecodeBatch(e.batch)
	if err != nil {
		return nil, fmt.Errorf("%w: station %q partition %d: %w", errBadEntry, e.station, e.partition, err)
	}
	e.recs = recs
	return recs, nil
}

// encodeAppend encodes an append of recs to station's partition at offset
// base. The records' timestamps must be set.
func encodeAppend(station string, partition uint32, base uint64, recs []broker.Record) []byte {
	buf := make([]byte, 0, 1+2+len(station)+4+64+recordsSize(recs))
	buf = append(buf, kindAppend)
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(station)))
	buf = append(buf, station...)
	buf = binary.BigEndian.AppendUint32(buf, partition)
	return seglog.EncodeBatch(buf, base, recs)
}

func recordsSize(recs []broker.Record) int {
	n := 0
	for i := range recs {
		n += len(recs[i].Key) + len(recs[i].Value) + 24
		for _, h := range recs[i].Headers {
			n += len(h.Key) + len(h.Value) + 4
		}
	}
	return n
}

// decodeAppend decodes a kindAppend entry, checking its batch's header
// (see appendEntry.records for the records).
func decodeAppend(data []byte) (appendEntry, error) {
	if len(data) < 3 || data[0] != kindAppend {
		return appendEntry{}, fmt.Errorf("%w: not an append", errBadEntry)
	}
	n := int(binary.BigEndian.Uint16(data[1:3]))
	data = data[3:]
	if len(data) < n+4 {
		return appendEntry{}, fmt.Errorf("%w: append of %d bytes is too short for its station name of %d", errBadEntry, len(data), n)
	}
	e := appendEntry{station: string(data[:n]), partition: binary.BigEndian.Uint32(data[n:])}
	if !names.Valid(e.station) {
		return appendEntry{}, fmt.Errorf("%w: invalid station name %q", errBadEntry, e.station)
	}
	batch := data[n+4:]
	base, count, size, err := seglog.PeekBatch(batch)
	if err != nil {
		return appendEntry{}, fmt.Errorf("%w: station %q partition %d: %w", errBadEntry, e.station, e.partition, err)
	}
	if size != len(batch) {
		return appendEntry{}, fmt.Errorf("%w: %d bytes after the batch", errBadEntry, len(batch)-size)
	}
	e.base, e.count, e.batch = base, count, batch
	return e, nil
}

// nodeInfo is what the cluster knows of a member besides raft's view.
type nodeInfo struct {
	ID   string `json:"id"`
	Raft string `json:"raft"`
	API  string `json:"api"`
	// Repairing is set while the node rebuilds damaged partitions, as a
	// non-voter.
	Repairing bool `json:"repairing,omitempty"`
}

func encodeJSON(kind byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append([]byte{kind}, b...), nil
}
