package broker

import (
	"fmt"

	"github.com/junctionhq/junction/broker/seglog"
)

// growPartitions gives the station st more partitions: cfg is its new
// configuration, with cfg.Partitions above the current count. Partitions
// are never removed; existing ones keep their logs, messages and groups'
// offsets, and the new ones start empty, every group reading them from
// their start.
//
// The new partitions' logs are opened first, then the station's groups
// stop (pulls in flight fail as if the broker were restarting, and
// deliveries awaiting ack are redelivered), and a station holding the old
// logs and the new ones, with the groups at their committed offsets, takes
// st's place.
// Produces are not interrupted: both stations write the same logs. Keyed
// messages produced afterwards hash over the new partition count, so a key
// may move to another partition: order per key holds from then on, not
// across the change. The caller holds the station's ops lock.
func (b *Broker) growPartitions(st *station, cfg StationConfig) error {
	if cfg.Storage == StorageMemory {
		return fieldErr("partitions", "a memory station cannot grow: its partitions live in one in-memory filesystem that would be lost")
	}
	added, err := b.openPartitions(cfg, len(st.logs))
	if err != nil {
		return err
	}
	closeAdded := func() {
		for _, l := range added {
			l.Close()
		}
	}
	if err := b.putStation(cfg); err != nil {
		closeAdded()
		return err
	}

	st.mu.Lock()
	st.closed = true // no group is created on st from now on
	groups := st.groups
	st.mu.Unlock()
	nst := &station{
		b: b, name: st.name, m: st.m, dedup: st.dedup,
		logs:     append(append([]PartitionLog(nil), st.logs...), added...),
		notifyCh: make(chan struct{}),
		groups:   make(map[string]*group, len(groups)),
	}
	nst.cfg.Store(&cfg)
	nst.dlqErr.Store(st.dlqErr.Load())
	for name, g := range groups {
		g.shutdown()
		if ng := g.regrow(nst); ng != nil {
			nst.groups[name] = ng
		}
	}
	b.mu.Lock()
	b.stations[st.name] = nst
	b.mu.Unlock()
	st.notify()
	return nil
}

// openPartitions opens the logs of partitions from..cfg.Partitions-1 of a
// disk station, each wrapped by the Replicator when there is one, as
// openStation does.
func (b *Broker) openPartitions(cfg StationConfig, from int) ([]PartitionLog, error) {
	var out []PartitionLog
	for p := uint32(from); p < cfg.Partitions; p++ {
		l, err := seglog.Open(b.partitionLogOptions(cfg, p, b.PartitionDir(cfg.Name, p)))
		if err != nil {
			for _, l := range out {
				l.Close()
			}
			return nil, fmt.Errorf("station %q partition %d: %w", cfg.Name, p, err)
		}
		out = append(out, b.replicated(cfg.Name, p, segLog{l}))
	}
	return out, nil
}

// regrow returns g's successor on nst, a station with more partitions: at
// g's committed offsets, reading the new partitions from their start. It
// is dirty, so the next checkpoint stores every partition's offset. nil
// when g was deleted.
func (g *group) regrow(nst *station) *group {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return nil
	}
	commits := make([]uint64, len(nst.logs))
	for p, l := range nst.logs {
		if p < len(g.parts) {
			commits[p] = g.parts[p].commit
		} else {
			commits[p], _ = l.Bounds()
		}
	}
	ng := newGroup(nst, g.name, g.rec, commits)
	ng.deadLettered = g.deadLettered
	ng.dirty = true
	return ng
}
