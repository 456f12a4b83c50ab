package meta

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Keep decides which records of a damaged metadata file Rebuild copies.
// Each func gets the record's name and value and returns nil to keep it or
// an error saying why not; a nil func keeps everything of its kind.
type Keep struct {
	Station func(name string, value []byte) error
	Group   func(station, group string, value []byte) error
}

// RebuildReport says what Rebuild copied and what it left behind.
type RebuildReport struct {
	// Aside is where the damaged file was moved.
	Aside string
	// Stations, Groups, Offsets, Connectors and Checkpoints count the
	// records copied.
	Stations, Groups, Offsets, Connectors, Checkpoints int
	// Dropped says, per record left behind or part of the file that could
	// not be read, what and why.
	Dropped []string
}

// Rebuild moves the metadata file at path aside (to path.bad-TIMESTAMP),
// creates a fresh one at path and copies into it every record of the old
// file that can still be read and that keep accepts: groups only of kept
// stations, offsets only of kept groups. It never panics on a damaged
// file. The returned Store is the fresh file, open.
func Rebuild(path string, keep Keep) (*Store, RebuildReport, error) {
	var rep RebuildReport
	if _, err := os.Stat(path); err == nil {
		rep.Aside = path + ".bad-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(path, rep.Aside); err != nil {
			return nil, rep, fmt.Errorf("move damaged metadata file aside: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, rep, fmt.Errorf("rebuild metadata: %w", err)
	}
	var old map[string][][2][]byte
	if rep.Aside != "" {
		old = salvage(rep.Aside, &rep)
	}
	s, err := Open(path, time.Second)
	if err != nil {
		return nil, rep, err
	}
	stations := make(map[string]bool)
	groups := make(map[string]bool)
	err = s.update(func(tx *bolt.Tx) error {
		for _, kv := range old[string(bucketStations)] {
			if keep.Station != nil {
				if err := keep.Station(string(kv[0]), kv[1]); err != nil {
					rep.Dropped = append(rep.Dropped, fmt.Sprintf("station %q: %v", kv[0], err))
					continue
				}
			}
			stations[string(kv[0])] = true
			rep.Stations++
			if err := tx.Bucket(bucketStations).Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		for _, kv := range old[string(bucketGroups)] {
			st, g, ok := bytes.Cut(kv[0], []byte{0})
			if !ok || !stations[string(st)] {
				rep.Dropped = append(rep.Dropped, fmt.Sprintf("group %q: its station was not kept", kv[0]))
				continue
			}
			if keep.Group != nil {
				if err := keep.Group(string(st), string(g), kv[1]); err != nil {
					rep.Dropped = append(rep.Dropped, fmt.Sprintf("group %s/%s: %v", st, g, err))
					continue
				}
			}
			groups[string(kv[0])] = true
			rep.Groups++
			if err := tx.Bucket(bucketGroups).Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		for _, kv := range old[string(bucketOffsets)] {
			k := kv[0]
			if len(k) < 5 || k[len(k)-5] != 0 || len(kv[1]) != 8 || !groups[string(k[:len(k)-5])] {
				rep.Dropped = append(rep.Dropped, fmt.Sprintf("offset %q: malformed or of a group not kept", k))
				continue
			}
			rep.Offsets++
			if err := tx.Bucket(bucketOffsets).Put(k, kv[1]); err != nil {
				return err
			}
		}
		for _, c := range []struct {
			b []byte
			n *int
		}{{bucketConnectors, &rep.Connectors}, {bucketCheckpoints, &rep.Checkpoints}} {
			for _, kv := range old[string(c.b)] {
				*c.n++
				if err := tx.Bucket(c.b).Put(kv[0], kv[1]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		s.Close()
		return nil, rep, fmt.Errorf("rebuild metadata %s: %w", path, err)
	}
	return s, rep, nil
}

// salvage reads what it can of the known buckets of a damaged file,
// bucket by bucket, noting in rep what it could not.
func salvage(path string, rep *RebuildReport) map[string][][2][]byte {
	out := make(map[string][][2][]byte)
	var db *bolt.DB
	err := guard(func() error {
		var err error
		db, err = bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
		return err
	})
	if err != nil {
		rep.Dropped = append(rep.Dropped, fmt.Sprintf("the whole file: %v", err))
		return out
	}
	defer guard(db.Close)
	for _, name := range allBuckets {
		var kvs [][2][]byte
		err := guard(func() error {
			return db.View(func(tx *bolt.Tx) error {
				b := tx.Bucket(name)
				if b == nil {
					return errors.New("missing")
				}
				c := b.Cursor()
				for k, v := c.First(); k != nil; k, v = c.Next() {
					if v == nil {
						continue // a nested bucket: not ours
					}
					kvs = append(kvs, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
				}
				return nil
			})
		})
		if err != nil {
			rep.Dropped = append(rep.Dropped, fmt.Sprintf("bucket %s after %d records: %v", name, len(kvs), err))
		}
		out[string(name)] = kvs
	}
	return out
}
