package cluster

import (
	"sync"

	"github.com/hashicorp/raft"
)

// Raft reads back the entries it has just stored: the leader to send each
// one to every follower (and the one before it, for its term), every node
// to apply them. From the WAL each read is a pread and a decode into a new
// buffer the size of the entry, a produce batch of up to a MiB, which cost
// the leader about a fifth of its CPU under a produce load. logCache keeps
// the latest entries as raft stored them, up to a number of entries and
// of bytes, so these reads come from memory; older entries (a follower
// far behind, a restart) come from the WAL as before.
//
// Entries are never modified once stored (the FSM and the transport only
// read their Data), so the cache hands out the stored values, as
// raft.LogCache does; unlike it, it bounds the bytes it holds.

// Bounds of the log cache. A few produce batches of up to a MiB are in
// flight at a time; 16 MiB serves them all and adds about 30 MiB to a
// node's peak RSS under a 1 KiB produce load (the GC's goal grows with
// the cache); 32 MiB showed no clear gain for twice that.
const (
	logCacheEntries = 1024
	logCacheBytes   = 16 << 20
)

// logCache is a raft LogStore that serves the latest entries stored
// through it from memory. The entries it holds have consecutive indexes
// [first, next).
type logCache struct {
	*boundedLog
	limit int // bytes

	mu          sync.RWMutex
	ring        []*raft.Log // entry i at ring[i%len(ring)]
	first, next uint64
	bytes       int
}

func newLogCache(s *boundedLog, entries, bytes int) *logCache {
	return &logCache{boundedLog: s, limit: bytes, ring: make([]*raft.Log, entries)}
}

// GetLog implements raft.LogStore.
func (c *logCache) GetLog(index uint64, l *raft.Log) error {
	c.mu.RLock()
	if index >= c.first && index < c.next {
		*l = *c.ring[index%uint64(len(c.ring))]
		c.mu.RUnlock()
		return nil
	}
	c.mu.RUnlock()
	return c.boundedLog.GetLog(index, l)
}

// StoreLog implements raft.LogStore.
func (c *logCache) StoreLog(l *raft.Log) error { return c.StoreLogs([]*raft.Log{l}) }

// StoreLogs implements raft.LogStore: the entries are cached once the
// store has them.
func (c *logCache) StoreLogs(logs []*raft.Log) error {
	if err := c.boundedLog.StoreLogs(logs); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range logs {
		if l.Index != c.next || c.first == c.next {
			c.dropAll()
			c.first, c.next = l.Index, l.Index
		}
		if c.next-c.first == uint64(len(c.ring)) {
			c.dropFirst()
		}
		c.ring[l.Index%uint64(len(c.ring))] = l
		c.bytes += len(l.Data)
		c.next++
		for c.bytes > c.limit && c.first < c.next {
			c.dropFirst()
		}
	}
	return nil
}

// DeleteRange implements raft.LogStore: the entries leave the cache
// before they leave the store.
func (c *logCache) DeleteRange(lo, hi uint64) error {
	c.mu.Lock()
	switch {
	case hi < c.first || lo >= c.next:
	case lo <= c.first && hi+1 < c.next:
		for c.first <= hi {
			c.dropFirst()
		}
	case lo > c.first:
		for c.next > lo {
			c.next--
			c.drop(c.next)
		}
	default:
		c.dropAll()
	}
	c.mu.Unlock()
	return c.boundedLog.DeleteRange(lo, hi)
}

func (c *logCache) dropFirst() {
	c.drop(c.first)
	c.first++
}

func (c *logCache) drop(index uint64) {
	i := index % uint64(len(c.ring))
	c.bytes -= len(c.ring[i].Data)
	c.ring[i] = nil
}

func (c *logCache) dropAll() {
	clear(c.ring)
	c.first, c.next, c.bytes = 0, 0, 0
}
