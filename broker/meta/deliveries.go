package meta

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bucketDeliveries keeps, per consumer group, how often its redelivered
// messages were delivered, so max_deliveries survives a restart. It is
// made on first use.
var bucketDeliveries = []byte("deliveries")

// Deliveries is a group's delivery counts, as a whole: committing it
// replaces what was stored for the group.
type Deliveries struct {
	Station, Group string
	Counts         []DeliveryCount
}

// DeliveryCount is how often one message was delivered.
type DeliveryCount struct {
	Partition uint32
	Offset    uint64
	Count     uint32
}

const deliveryCountSize = 16

func putDeliveries(tx *bolt.Tx, ds []Deliveries) error {
	if len(ds) == 0 {
		return nil
	}
	b, err := tx.CreateBucketIfNotExists(bucketDeliveries)
	if err != nil {
		return err
	}
	for _, d := range ds {
		key := groupKey(d.Station, d.Group)
		if len(d.Counts) == 0 {
			if err := b.Delete(key); err != nil {
				return err
			}
			continue
		}
		v := make([]byte, 0, len(d.Counts)*deliveryCountSize)
		for _, c := range d.Counts {
			v = binary.BigEndian.AppendUint32(v, c.Partition)
			v = binary.BigEndian.AppendUint64(v, c.Offset)
			v = binary.BigEndian.AppendUint32(v, c.Count)
		}
		if err := b.Put(key, v); err != nil {
			return err
		}
	}
	return nil
}

// DeliveryCounts returns the delivery counts stored for a group.
func (s *Store) DeliveryCounts(station, group string) ([]DeliveryCount, error) {
	var out []DeliveryCount
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDeliveries)
		if b == nil {
			return nil
		}
		v := b.Get(groupKey(station, group))
		if len(v)%deliveryCountSize != 0 {
			return fmt.Errorf("delivery counts of group %s/%s: malformed record of %d bytes", station, group, len(v))
		}
		for ; len(v) > 0; v = v[deliveryCountSize:] {
			out = append(out, DeliveryCount{
				Partition: binary.BigEndian.Uint32(v),
				Offset:    binary.BigEndian.Uint64(v[4:]),
				Count:     binary.BigEndian.Uint32(v[12:]),
			})
		}
		return nil
	})
	return out, err
}

// deleteDeliveries removes the counts of every group whose key starts
// with prefix.
func deleteDeliveries(tx *bolt.Tx, prefix []byte) error {
	b := tx.Bucket(bucketDeliveries)
	if b == nil {
		return nil
	}
	return deletePrefix(b, prefix)
}
