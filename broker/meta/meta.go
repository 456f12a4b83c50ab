// Package meta is the broker's metadata store: stations, consumer groups and
// their committed offsets, connectors and their source checkpoints, kept in
// one bbolt file. Messages never live here.
//
// Values are opaque bytes owned by the caller; the store only knows keys.
// Every write is its own fsynced bbolt transaction, so a method that returned
// nil survives a crash.
package meta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketStations    = []byte("stations")
	bucketGroups      = []byte("groups")
	bucketOffsets     = []byte("offsets")
	bucketConnectors  = []byte("connectors")
	bucketCheckpoints = []byte("checkpoints")
)

// ErrLocked means another process holds the metadata file open.
var ErrLocked = errors.New("metadata file is locked by another process")

// Store is the metadata store. It is safe for concurrent use.
type Store struct {
	db *bolt.DB
}

// Open opens (creating if needed) the metadata file at path. If another
// process holds it, Open fails with ErrLocked after lockWait.
func Open(path string, lockWait time.Duration) (*Store, error) {
	if lockWait <= 0 {
		lockWait = 100 * time.Millisecond
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open metadata %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketStations, bucketGroups, bucketOffsets, bucketConnectors, bucketCheckpoints} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init metadata %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// PutStation stores the record of a station, replacing any previous one.
func (s *Store) PutStation(name string, value []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStations).Put([]byte(name), value)
	})
}

// Stations calls fn for every station record, in name order. The value is
// only valid during the call.
func (s *Store) Stations(fn func(name string, value []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStations).ForEach(func(k, v []byte) error {
			return fn(string(k), v)
		})
	})
}

// DeleteStation removes a station with all its groups and offsets.
func (s *Store) DeleteStation(name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketStations).Delete([]byte(name)); err != nil {
			return err
		}
		prefix := stationPrefix(name)
		for _, b := range [][]byte{bucketGroups, bucketOffsets} {
			if err := deletePrefix(tx.Bucket(b), prefix); err != nil {
				return err
			}
		}
		return deleteDeliveries(tx, prefix)
	})
}

// PutGroup stores the record of a consumer group.
func (s *Store) PutGroup(station, group string, value []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketGroups).Put(groupKey(station, group), value)
	})
}

// Groups calls fn for every group of station, in name order.
func (s *Store) Groups(station string, fn func(group string, value []byte) error) error {
	prefix := stationPrefix(station)
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketGroups).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if err := fn(string(k[len(prefix):]), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteGroup removes a group and its committed offsets.
func (s *Store) DeleteGroup(station, group string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		key := groupKey(station, group)
		if err := tx.Bucket(bucketGroups).Delete(key); err != nil {
			return err
		}
		if err := putDeliveries(tx, []Deliveries{{Station: station, Group: group}}); err != nil {
			return err
		}
		return deletePrefix(tx.Bucket(bucketOffsets), append(key, 0))
	})
}

// Offset is the committed offset of one partition of a consumer group.
type Offset struct {
	Station   string
	Group     string
	Partition uint32
	Offset    uint64
}

// CommitOffsets stores many committed offsets, and the delivery counts of
// groups, in one transaction.
func (s *Store) CommitOffsets(offsets []Offset, deliveries ...Deliveries) error {
	if len(offsets) == 0 && len(deliveries) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := putDeliveries(tx, deliveries); err != nil {
			return err
		}
		b := tx.Bucket(bucketOffsets)
		for _, o := range offsets {
			var v [8]byte
			binary.BigEndian.PutUint64(v[:], o.Offset)
			if err := b.Put(offsetKey(o.Station, o.Group, o.Partition), v[:]); err != nil {
				return err
			}
		}
		return nil
	})
}

// Offsets returns the committed offsets of a group by partition.
func (s *Store) Offsets(station, group string) (map[uint32]uint64, error) {
	out := make(map[uint32]uint64)
	prefix := append(groupKey(station, group), 0)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOffsets).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			rest := k[len(prefix):]
			if len(rest) != 4 || len(v) != 8 {
				return fmt.Errorf("offset record %q of group %s/%s: malformed", k, station, group)
			}
			out[binary.BigEndian.Uint32(rest)] = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return out, err
}

// PutConnector stores a connector's record.
func (s *Store) PutConnector(name string, value []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConnectors).Put([]byte(name), value)
	})
}

// Connectors calls fn for every connector record, in name order.
func (s *Store) Connectors(fn func(name string, value []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConnectors).ForEach(func(k, v []byte) error {
			return fn(string(k), v)
		})
	})
}

// DeleteConnector removes a connector and its checkpoint.
func (s *Store) DeleteConnector(name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketConnectors).Delete([]byte(name)); err != nil {
			return err
		}
		return tx.Bucket(bucketCheckpoints).Delete([]byte(name))
	})
}

// PutCheckpoint stores a source connector's position.
func (s *Store) PutCheckpoint(name string, position []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCheckpoints).Put([]byte(name), position)
	})
}

// Checkpoint returns a source connector's position, nil if it has none.
func (s *Store) Checkpoint(name string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketCheckpoints).Get([]byte(name)); v != nil {
			out = bytes.Clone(v)
		}
		return nil
	})
	return out, err
}

// Station and group names cannot contain 0, so it separates key parts.
func stationPrefix(station string) []byte {
	return append([]byte(station), 0)
}

func groupKey(station, group string) []byte {
	return append(stationPrefix(station), group...)
}

func offsetKey(station, group string, partition uint32) []byte {
	k := append(groupKey(station, group), 0)
	return binary.BigEndian.AppendUint32(k, partition)
}

func deletePrefix(b *bolt.Bucket, prefix []byte) error {
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}
