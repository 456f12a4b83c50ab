package meta

import (
	bolt "go.etcd.io/bbolt"
)

// Replays calls fn with every dead-letter replay state, in key order.
// The value is valid only during the call.
func (s *Store) Replays(fn func(key string, value []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReplay)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error { return fn(string(k), v) })
	})
}

// DeleteReplayKey deletes the replay state under exactly key.
func (s *Store) DeleteReplayKey(key string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReplay)
		if b == nil {
			return nil
		}
		return b.Delete([]byte(key))
	})
}
