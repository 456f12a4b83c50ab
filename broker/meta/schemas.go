package meta

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Schema registry and dead-letter replay records, in buckets of their own
// created on first write.
var (
	bucketSchemas        = []byte("schemas")         // name -> schema record
	bucketSchemaVersions = []byte("schema_versions") // name 0 version(u32 BE) -> version record
	bucketReplay         = []byte("dlq_replay")      // key -> replay state
)

func bucket(tx *bolt.Tx, name []byte) (*bolt.Bucket, error) {
	if tx.Writable() {
		return tx.CreateBucketIfNotExists(name)
	}
	return tx.Bucket(name), nil
}

func versionKey(name string, version uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(name), 0), version)
}

// PutSchemaVersion stores a schema's record together with one of its
// versions, in one transaction.
func (s *Store) PutSchemaVersion(name string, record []byte, version uint32, value []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		sb, err := bucket(tx, bucketSchemas)
		if err != nil {
			return err
		}
		vb, err := bucket(tx, bucketSchemaVersions)
		if err != nil {
			return err
		}
		if err := sb.Put([]byte(name), record); err != nil {
			return err
		}
		return vb.Put(versionKey(name, version), value)
	})
}

// PutSchema replaces a schema's record.
func (s *Store) PutSchema(name string, record []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		sb, err := bucket(tx, bucketSchemas)
		if err != nil {
			return err
		}
		return sb.Put([]byte(name), record)
	})
}

// Schemas calls fn for every schema record, in name order, and for each
// with its versions in version order. Values are only valid during the
// call.
func (s *Store) Schemas(fn func(name string, record []byte, versions func(func(version uint32, value []byte) error) error) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		sb := tx.Bucket(bucketSchemas)
		if sb == nil {
			return nil
		}
		vb := tx.Bucket(bucketSchemaVersions)
		return sb.ForEach(func(k, v []byte) error {
			name := string(k)
			versions := func(each func(uint32, []byte) error) error {
				if vb == nil {
					return nil
				}
				prefix := append([]byte(name), 0)
				c := vb.Cursor()
				for vk, vv := c.Seek(prefix); vk != nil && bytes.HasPrefix(vk, prefix); vk, vv = c.Next() {
					rest := vk[len(prefix):]
					if len(rest) != 4 {
						return fmt.Errorf("schema version record %q: malformed key", vk)
					}
					if err := each(binary.BigEndian.Uint32(rest), vv); err != nil {
						return err
					}
				}
				return nil
			}
			return fn(name, v, versions)
		})
	})
}

// DeleteSchema removes a schema and all its versions.
func (s *Store) DeleteSchema(name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		sb, err := bucket(tx, bucketSchemas)
		if err != nil {
			return err
		}
		vb, err := bucket(tx, bucketSchemaVersions)
		if err != nil {
			return err
		}
		if err := sb.Delete([]byte(name)); err != nil {
			return err
		}
		return deletePrefix(vb, append([]byte(name), 0))
	})
}

// PutReplay stores the replay state under key.
func (s *Store) PutReplay(key string, value []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketReplay)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), value)
	})
}

// Replay returns the replay state under key, nil if there is none.
func (s *Store) Replay(key string) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketReplay); b != nil {
			if v := b.Get([]byte(key)); v != nil {
				out = bytes.Clone(v)
			}
		}
		return nil
	})
	return out, err
}

// DeleteReplay removes the replay state under every key starting with
// prefix.
func (s *Store) DeleteReplay(prefix string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketReplay)
		if err != nil {
			return err
		}
		return deletePrefix(b, []byte(prefix))
	})
}
