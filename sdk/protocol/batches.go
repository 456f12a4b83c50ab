package protocol

import (
	"fmt"
	"time"

	pb "github.com/junctionhq/junction/sdk/proto/connectorv1"
	"github.com/junctionhq/junction/sdk/recordbatch"
)

// RecordBatches holds record batches of one partition of a sink's station
// in the broker's segment encoding (see package recordbatch): the form a
// sink that takes batches receives its records in (see
// SinkClient.WriteRecordBatches), handed on as the broker stored them.
type RecordBatches struct {
	Partition uint32
	// Data is one or more batches back to back.
	Data []byte
}

// DecodeRecordBatches returns the records of bs in order. A malformed,
// truncated or checksum-failing batch is an error wrapping
// recordbatch.ErrCorrupt that names the partition. What it allocates is
// bounded by the size of the input; keys, values and header values alias
// the batches' Data, which the caller must not change afterwards.
func DecodeRecordBatches(bs []RecordBatches) ([]Record, error) {
	n := 0
	for _, b := range bs {
		k, err := recordbatch.Count(b.Data)
		if err != nil {
			return nil, fmt.Errorf("record batches of partition %d: %w", b.Partition, err)
		}
		n += k
	}
	out := make([]Record, 0, n)
	for _, b := range bs {
		var err error
		if out, err = AppendBatchRecords(out, b.Partition, b.Data); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RecordBatchesFromPB returns the record batches of their wire form.
func RecordBatchesFromPB(ps []*pb.RecordBatches) []RecordBatches {
	out := make([]RecordBatches, len(ps))
	for i, p := range ps {
		out[i] = RecordBatches{Partition: p.GetPartition(), Data: p.GetData()}
	}
	return out
}

func recordBatchesToPB(bs []RecordBatches) []*pb.RecordBatches {
	msgs := make([]pb.RecordBatches, len(bs))
	out := make([]*pb.RecordBatches, len(bs))
	for i, b := range bs {
		msgs[i].Partition, msgs[i].Data = b.Partition, b.Data
		out[i] = &msgs[i]
	}
	return out
}

// AppendBatchRecords appends to dst the records of data, record batches of
// partition, with the same aliasing and errors as DecodeRecordBatches. On
// error, dst may hold some of data's records.
func AppendBatchRecords(dst []Record, partition uint32, data []byte) ([]Record, error) {
	var hdrs []Header
	err := recordbatch.Decode(data, func(r *recordbatch.Record) {
		// Fields set in place: copying whole Records would cost a bulk
		// write barrier each while the collector runs.
		dst = append(dst, Record{})
		rec := &dst[len(dst)-1]
		rec.Key, rec.Value, rec.Partition, rec.Offset = r.Key, r.Value, partition, r.Offset
		if r.Timestamp != 0 {
			rec.Timestamp = time.Unix(0, r.Timestamp).UTC()
		}
		if len(r.Headers) > 0 {
			first := len(hdrs)
			for _, h := range r.Headers {
				hdrs = append(hdrs, Header{Key: h.Key, Value: h.Value})
			}
			rec.Headers = hdrs[first:len(hdrs):len(hdrs)]
		}
	})
	if err != nil {
		return dst, fmt.Errorf("record batches of partition %d: %w", partition, err)
	}
	return dst, nil
}
