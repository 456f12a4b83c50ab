package cluster

import (
	"encoding/json"
	"fmt"

	"github.com/junctionhq/junction/broker/api"
	"github.com/junctionhq/junction/broker/meta"
)

// kindAuth is a write to the auth store (authWrite, JSON).
const kindAuth byte = 9

// authWrite is a write to the auth store, applied on every node to its
// own metadata file. Values are the records broker/auth stores: password
// hashes and token hashes, never a password or a token's secret.
type authWrite struct {
	Op     string   `json:"op"` // put-user, delete-user, put-token or delete-token
	Name   string   `json:"name"`
	Value  []byte   `json:"value,omitempty"`
	Tokens []string `json:"tokens,omitempty"`
}

// authStore is the replicated auth store: users, their grants and
// password hashes, and API tokens (hashed). Reads are local, so every
// node checks logins and tokens against its own replica; writes go
// through the leader and are applied on every node.
type authStore struct {
	n     *Node
	local meta.AuthStore
}

var _ meta.AuthStore = (*authStore)(nil)

// AuthStore returns the cluster's replicated auth store over local, this
// node's own, which committed writes are applied to. Call it, and
// OnAuthChange, before Start, so that entries replayed at start find the
// store.
func (n *Node) AuthStore(local meta.AuthStore) meta.AuthStore {
	n.auth = local
	n.authChanged = make(chan struct{}, 1)
	return &authStore{n: n, local: local}
}

// OnAuthChange makes the node call fn, from one goroutine and never
// concurrently, after writes to the auth store were applied here
// (including those this node made as leader, and a snapshot installed):
// the holder of the users and tokens in memory reloads them from the
// local store. Call it before Start; the calls stop when the node closes.
func (n *Node) OnAuthChange(fn func()) { n.onAuth = fn }

// watchAuth runs OnAuthChange's calls until the node closes.
func (n *Node) watchAuth() {
	if n.onAuth == nil || n.authChanged == nil {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			select {
			case <-n.stop:
				return
			case <-n.authChanged:
				seq := n.authSeq.Load()
				n.onAuth()
				n.authReloaded.Store(seq)
			}
		}
	}()
}

// authApplied wakes OnAuthChange's goroutine without waiting: the writer
// on the leader holds the lock the reload takes.
func (n *Node) authApplied() {
	n.authSeq.Add(1)
	select {
	case n.authChanged <- struct{}{}:
	default:
	}
}

func (s *authStore) write(w authWrite) error {
	if err := s.n.notLeader(); err != nil {
		return api.Error(err, "", "")
	}
	data, err := encodeJSON(kindAuth, w)
	if err != nil {
		return err
	}
	if _, err := s.n.apply(data); err != nil {
		return api.Error(err, "", "")
	}
	return nil
}

func (s *authStore) PutUser(name string, value []byte) error {
	return s.write(authWrite{Op: "put-user", Name: name, Value: value})
}

func (s *authStore) DeleteUser(name string, tokenIDs []string) error {
	return s.write(authWrite{Op: "delete-user", Name: name, Tokens: tokenIDs})
}

func (s *authStore) PutToken(id string, value []byte) error {
	return s.write(authWrite{Op: "put-token", Name: id, Value: value})
}

func (s *authStore) DeleteToken(id string) error {
	return s.write(authWrite{Op: "delete-token", Name: id})
}

func (s *authStore) Users(fn func(name string, value []byte) error) error { return s.local.Users(fn) }

func (s *authStore) Tokens(fn func(id string, value []byte) error) error { return s.local.Tokens(fn) }

// applyAuthWrite applies a kindAuth entry at a raft index to the local
// store. An entry applied before a restart is skipped rather than
// replayed: replaying a token's creation would bring it back, for a
// moment, after its revocation.
func (n *Node) applyAuthWrite(data []byte, index uint64) error {
	idx := n.applied("auth")
	if idx.done(index) {
		return nil
	}
	var w authWrite
	if err := json.Unmarshal(data, &w); err != nil {
		return fmt.Errorf("%w: auth write: %w", errBadEntry, err)
	}
	if n.auth == nil {
		return fmt.Errorf("cluster: no auth store")
	}
	var err error
	switch w.Op {
	case "put-user":
		err = n.auth.PutUser(w.Name, w.Value)
	case "delete-user":
		err = n.auth.DeleteUser(w.Name, w.Tokens)
	case "put-token":
		err = n.auth.PutToken(w.Name, w.Value)
	case "delete-token":
		err = n.auth.DeleteToken(w.Name)
	default:
		return fmt.Errorf("%w: unknown auth write %q", errBadEntry, w.Op)
	}
	n.authApplied()
	if err != nil {
		return err
	}
	idx.advance(n, index)
	return nil
}

// manifestRecord is a keyed record of a store in a snapshot manifest.
type manifestRecord struct {
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// manifestAuth is the auth store in a snapshot manifest.
type manifestAuth struct {
	Users  []manifestRecord `json:"users,omitempty"`
	Tokens []manifestRecord `json:"tokens,omitempty"`
}

// snapshotAuth lists the auth store for a snapshot.
func (n *Node) snapshotAuth() (*manifestAuth, error) {
	if n.auth == nil {
		return nil, nil
	}
	m := &manifestAuth{}
	if err := n.auth.Users(func(name string, v []byte) error {
		m.Users = append(m.Users, manifestRecord{Key: name, Value: append([]byte(nil), v...)})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("cluster: snapshot users: %w", err)
	}
	if err := n.auth.Tokens(func(id string, v []byte) error {
		m.Tokens = append(m.Tokens, manifestRecord{Key: id, Value: append([]byte(nil), v...)})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("cluster: snapshot tokens: %w", err)
	}
	return m, nil
}

// restoreAuth makes the local auth store hold what a snapshot lists, and
// nothing else. Records are written before others are dropped, so a
// reload meanwhile never finds a user missing that both states have. A
// manifest without an auth section (written before the auth store was
// replicated) leaves the store as it is.
func (n *Node) restoreAuth(m *manifestAuth) error {
	if n.auth == nil || m == nil {
		return nil
	}
	defer n.authApplied()
	wantUsers := make(map[string]bool, len(m.Users))
	for _, u := range m.Users {
		if err := n.auth.PutUser(u.Key, u.Value); err != nil {
			return fmt.Errorf("cluster: restore user %q: %w", u.Key, err)
		}
		wantUsers[u.Key] = true
	}
	wantTokens := make(map[string]bool, len(m.Tokens))
	for _, t := range m.Tokens {
		if err := n.auth.PutToken(t.Key, t.Value); err != nil {
			return fmt.Errorf("cluster: restore token %s: %w", t.Key, err)
		}
		wantTokens[t.Key] = true
	}
	var goneUsers, goneTokens []string
	if err := n.auth.Users(func(name string, _ []byte) error {
		if !wantUsers[name] {
			goneUsers = append(goneUsers, name)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("cluster: restore users: %w", err)
	}
	if err := n.auth.Tokens(func(id string, _ []byte) error {
		if !wantTokens[id] {
			goneTokens = append(goneTokens, id)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("cluster: restore tokens: %w", err)
	}
	for _, id := range goneTokens {
		if err := n.auth.DeleteToken(id); err != nil {
			return fmt.Errorf("cluster: restore: drop token %s: %w", id, err)
		}
	}
	for _, name := range goneUsers {
		if err := n.auth.DeleteUser(name, nil); err != nil {
			return fmt.Errorf("cluster: restore: drop user %q: %w", name, err)
		}
	}
	return nil
}
