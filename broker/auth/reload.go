package auth

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/junctionhq/junction/broker/meta"
)

// load reads every user and token from store.
func load(store meta.AuthStore) (map[string]*user, map[string]*token, error) {
	users, tokens := map[string]*user{}, map[string]*token{}
	err := store.Users(func(name string, v []byte) error {
		u := &user{}
		if err := json.Unmarshal(v, u); err != nil {
			return fmt.Errorf("user %s: decode: %w", name, err)
		}
		if err := u.parse(); err != nil {
			return fmt.Errorf("user %s: %w", name, err)
		}
		users[name] = u
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load users: %w", err)
	}
	err = store.Tokens(func(id string, v []byte) error {
		t := &token{}
		if err := json.Unmarshal(v, t); err != nil {
			return fmt.Errorf("token %s: decode: %w", id, err)
		}
		var err error
		if t.grants, err = parseGrants(t.Grants); err != nil {
			return fmt.Errorf("token %s: %w", id, err)
		}
		tokens[id] = t
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load tokens: %w", err)
	}
	return users, tokens, nil
}

// Reload replaces the users and tokens held in memory with the store's,
// for a store that others write to as well (a cluster's replicated store,
// written on every node as its leader agrees). Calls whose credentials
// went or changed end, as they do when the change is made here: those of
// a deleted or regranted user, of a revoked token, and the anonymous
// calls of an open broker once it has users.
func (a *Auth) Reload() error {
	// Read under the lock that writes made here hold across their store
	// write, so a reload never swaps in a store older than memory.
	a.mu.Lock()
	defer a.mu.Unlock()
	users, tokens, err := load(a.opts.Store)
	if err != nil {
		return fmt.Errorf("auth: reload: %w", err)
	}
	changed := map[string]bool{}
	for name, old := range a.users {
		if u := users[name]; u == nil || u.Role != old.Role || !slices.Equal(u.Grants, old.Grants) {
			changed[name] = true
		}
	}
	revoked := map[string]bool{}
	for id := range a.tokens {
		if tokens[id] == nil {
			revoked[id] = true
		}
	}
	nowEnabled := len(a.users) == 0 && len(users) > 0
	a.users, a.tokens = users, tokens
	if nowEnabled {
		a.log.Warn("users replicated to this node: authentication is now required for every call", "users", len(users))
	}
	if len(changed) > 0 || len(revoked) > 0 || nowEnabled {
		a.closeLive(func(c *liveCall) bool {
			return (nowEnabled && c.open) || changed[c.user] || revoked[c.tokenID]
		})
	}
	return nil
}
