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
	"io/fs"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketStations    = []byte("stations")
	bucketGroups      = []byte("groups")
	bucketOffsets     = []byte("offsets")
	bucketConnectors  = []byte("connectors")
	bucketCheckpoints = []byte("checkpoints")

	allBuckets = [][]byte{bucketStations, bucketGroups, bucketOffsets, bucketConnectors, bucketCheckpoints}
)

// ErrLocked means another process holds the metadata file open.
var ErrLocked = errors.New("metadata file is locked by another process")

// ErrCorrupt is the class of errors reporting a metadata file that cannot be
// read. Test with errors.Is.
var ErrCorrupt = errors.New("metadata file is corrupt")

// CorruptError reports a metadata file that cannot be read, naming the file
// and what to do. It matches ErrCorrupt.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("metadata file %s is corrupt: %v; restore it from a backup, or start the server with --recover-meta "+
		"to rebuild what it can (stations from the segment directories) into a fresh file, keeping the bad one aside", e.Path, e.Err)
}

// Unwrap returns the underlying error.
func (e *CorruptError) Unwrap() error { return e.Err }

// Is makes a CorruptError match ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Store is the metadata store. It is safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
}

// panicError is a panic or memory fault caught by guard.
type panicError struct{ v any }

func (e *panicError) Error() string { return fmt.Sprint(e.v) }

// guard runs fn, turning a panic or a memory fault into a *panicError:
// bbolt panics on some corrupt pages (an invalid freelist page, a bad page
// type) and reads its file through mmap.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{r}
		}
	}()
	return fn()
}

// corrupt turns a caught panic into a *CorruptError naming the file.
func (s *Store) corrupt(err error) error {
	var pe *panicError
	if errors.As(err, &pe) {
		return &CorruptError{Path: s.path, Err: err}
	}
	return err
}

func (s *Store) view(fn func(*bolt.Tx) error) error {
	return s.corrupt(guard(func() error { return s.db.View(fn) }))
}

func (s *Store) update(fn func(*bolt.Tx) error) error {
	return s.corrupt(guard(func() error { return s.db.Update(fn) }))
}

// Open opens (creating if needed) the metadata file at path and reads it
// through once, so that a corrupt file fails here with a *CorruptError
// rather than later. If another process holds it, Open fails with ErrLocked
// after lockWait.
func Open(path string, lockWait time.Duration) (*Store, error) {
	if lockWait <= 0 {
		lockWait = 100 * time.Millisecond
	}
	var db *bolt.DB
	err := guard(func() error {
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait})
		return err
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open metadata %s: %w", path, ErrLocked)
	}
	var pe *fs.PathError
	if err != nil && errors.As(err, &pe) {
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	if err != nil {
		return nil, &CorruptError{Path: path, Err: err}
	}
	s := &Store{db: db, path: path}
	err = s.update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = s.view(func(tx *bolt.Tx) error {
			for _, b := range allBuckets {
				if err := tx.Bucket(b).ForEach(func(k, v []byte) error { return nil }); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		_ = guard(db.Close)
		var ce *CorruptError
		if !errors.As(err, &ce) {
			err = fmt.Errorf("init metadata %s: %w", path, err)
		}
		return nil, err
	}
	return s, nil
}

// Close closes the file.
func (s *Store) Close() error { return guard(s.db.Close) }

// Path is the metadata file's path.
func (s *Store) Path() string { return s.path }

// PutStation stores the record of a station, replacing any previous one.
func (s *Store) PutStation(name string, value []byte) error {
	return s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStations).Put([]byte(name), value)
	})
}

// Stations calls fn for every station record, in name order. The value is
// only valid during the call.
func (s *Store) Stations(fn func(name string, value []byte) error) error {
	return s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStations).ForEach(func(k, v []byte) error {
			return fn(string(k), v)
		})
	})
}

// DeleteStation removes a station with all its groups and offsets.
func (s *Store) DeleteStation(name string) error {
	return s.update(func(tx *bolt.Tx) error {
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
	return s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketGroups).Put(groupKey(station, group), value)
	})
}

// Groups calls fn for every group of station, in name order.
func (s *Store) Groups(station string, fn func(group string, value []byte) error) error {
	prefix := stationPrefix(station)
	return s.view(func(tx *bolt.Tx) error {
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
	return s.update(func(tx *bolt.Tx) error {
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
	return s.update(func(tx *bolt.Tx) error {
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
	err := s.view(func(tx *bolt.Tx) error {
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
	return s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConnectors).Put([]byte(name), value)
	})
}

// Connectors calls fn for every connector record, in name order.
func (s *Store) Connectors(fn func(name string, value []byte) error) error {
	return s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketConnectors).ForEach(func(k, v []byte) error {
			return fn(string(k), v)
		})
	})
}

// DeleteConnector removes a connector and its checkpoint.
func (s *Store) DeleteConnector(name string) error {
	return s.update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketConnectors).Delete([]byte(name)); err != nil {
			return err
		}
		return tx.Bucket(bucketCheckpoints).Delete([]byte(name))
	})
}

// PutCheckpoint stores a source connector's position.
func (s *Store) PutCheckpoint(name string, position []byte) error {
	return s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCheckpoints).Put([]byte(name), position)
	})
}

// Checkpoint returns a source connector's position, nil if it has none.
func (s *Store) Checkpoint(name string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
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
