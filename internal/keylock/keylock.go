// Package keylock serialises work per key (a station, a connector) without
// one lock for all keys, so a slow change to one never stalls the others.
package keylock

import "sync"

// Map hands out one mutex per key, kept only while someone holds or waits
// for it. The zero Map is ready to use; it must not be copied.
type Map struct {
	mu   sync.Mutex
	keys map[string]*entry
}

type entry struct {
	mu   sync.Mutex
	refs int
}

// Lock blocks until the caller holds key's lock and returns the function
// that releases it.
func (m *Map) Lock(key string) (unlock func()) {
	m.mu.Lock()
	if m.keys == nil {
		m.keys = make(map[string]*entry)
	}
	e := m.keys[key]
	if e == nil {
		e = &entry{}
		m.keys[key] = e
	}
	e.refs++
	m.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		m.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(m.keys, key)
		}
		m.mu.Unlock()
	}
}
