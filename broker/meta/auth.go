package meta

import (
	bolt "go.etcd.io/bbolt"
)

// The users and API tokens of the broker's authentication live in buckets
// of their own, created on first write, so a metadata file written before
// authentication existed opens unchanged.
var (
	bucketUsers  = []byte("users")
	bucketTokens = []byte("tokens")
)

// AuthStore keeps users (with their password hashes and grants) and API
// tokens (hashed). Values are opaque to the store.
type AuthStore interface {
	// PutUser stores a user's record, replacing any previous one.
	PutUser(name string, value []byte) error
	// Users calls fn for every user record, in name order.
	Users(fn func(name string, value []byte) error) error
	// DeleteUser removes a user and, atomically, the tokens whose ids
	// are listed.
	DeleteUser(name string, tokenIDs []string) error
	// PutToken stores a token's record under its id.
	PutToken(id string, value []byte) error
	// Tokens calls fn for every token record, in id order.
	Tokens(fn func(id string, value []byte) error) error
	// DeleteToken removes a token.
	DeleteToken(id string) error
}

var _ AuthStore = (*Store)(nil)

func (s *Store) put(bucket []byte, key string, value []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), value)
	})
}

func (s *Store) each(bucket []byte, fn func(key string, value []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error { return fn(string(k), v) })
	})
}

// PutUser stores a user's record, replacing any previous one.
func (s *Store) PutUser(name string, value []byte) error { return s.put(bucketUsers, name, value) }

// Users calls fn for every user record, in name order. The value is only
// valid during the call.
func (s *Store) Users(fn func(name string, value []byte) error) error {
	return s.each(bucketUsers, fn)
}

// DeleteUser removes a user and the tokens whose ids are listed, in one
// transaction.
func (s *Store) DeleteUser(name string, tokenIDs []string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketUsers); b != nil {
			if err := b.Delete([]byte(name)); err != nil {
				return err
			}
		}
		if b := tx.Bucket(bucketTokens); b != nil {
			for _, id := range tokenIDs {
				if err := b.Delete([]byte(id)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// PutToken stores a token's record under its id.
func (s *Store) PutToken(id string, value []byte) error { return s.put(bucketTokens, id, value) }

// Tokens calls fn for every token record, in id order. The value is only
// valid during the call.
func (s *Store) Tokens(fn func(id string, value []byte) error) error {
	return s.each(bucketTokens, fn)
}

// DeleteToken removes a token.
func (s *Store) DeleteToken(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketTokens); b != nil {
			return b.Delete([]byte(id))
		}
		return nil
	})
}
