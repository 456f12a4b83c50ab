package cluster

import (
	"fmt"
	"maps"
	"slices"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/broker/meta"
)

// manifestGroup is a consumer group in a snapshot manifest: its record,
// committed offsets and delivery counts, as the group store holds them at
// the snapshot's index.
type manifestGroup struct {
	Station    string               `json:"station"`
	Name       string               `json:"name"`
	Record     []byte               `json:"record"`
	Offsets    map[uint32]uint64    `json:"offsets,omitempty"`
	Deliveries []meta.DeliveryCount `json:"deliveries,omitempty"`
}

// snapshotGroups lists the group store of stations for a snapshot.
func (n *Node) snapshotGroups(stations []string) ([]manifestGroup, error) {
	if n.groups == nil {
		return nil, nil
	}
	var out []manifestGroup
	for _, st := range stations {
		err := n.groups.Groups(st, func(name string, v []byte) error {
			out = append(out, manifestGroup{Station: st, Name: name, Record: v})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("cluster: snapshot groups of station %q: %w", st, err)
		}
	}
	for i := range out {
		g := &out[i]
		var err error
		if g.Offsets, err = n.groups.Offsets(g.Station, g.Name); err != nil {
			return nil, fmt.Errorf("cluster: snapshot group %s/%s: %w", g.Station, g.Name, err)
		}
		if g.Deliveries, err = n.groups.DeliveryCounts(g.Station, g.Name); err != nil {
			return nil, fmt.Errorf("cluster: snapshot group %s/%s: %w", g.Station, g.Name, err)
		}
	}
	return out, nil
}

// restoreGroups makes the local group store of stations hold what a
// snapshot lists, and nothing else. A group whose stored offsets name a
// partition the snapshot does not is dropped before it is written again,
// so no stale offset survives. A snapshot listing a group of a station it
// does not hold, or an invalid group name, is refused before any change.
func (n *Node) restoreGroups(stations []string, list []manifestGroup) error {
	if n.groups == nil {
		return nil
	}
	known := make(map[string]bool, len(stations))
	for _, st := range stations {
		known[st] = true
	}
	want := make(map[[2]string]manifestGroup, len(list))
	for _, g := range list {
		if !known[g.Station] || !broker.ValidName(g.Name) {
			return fmt.Errorf("cluster: restore: snapshot lists group %q of station %q, which it does not hold", g.Name, g.Station)
		}
		want[[2]string{g.Station, g.Name}] = g
	}
	for _, st := range stations {
		var gone []string
		err := n.groups.Groups(st, func(name string, _ []byte) error {
			g, ok := want[[2]string{st, name}]
			if !ok {
				gone = append(gone, name)
				return nil
			}
			have, err := n.groups.Offsets(st, name)
			if err != nil {
				return err
			}
			for p := range have {
				if _, ok := g.Offsets[p]; !ok {
					gone = append(gone, name)
					break
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("cluster: restore groups of station %q: %w", st, err)
		}
		for _, name := range gone {
			if err := n.groups.DeleteGroup(st, name); err != nil {
				return fmt.Errorf("cluster: restore: drop group %s/%s: %w", st, name, err)
			}
		}
	}
	for _, g := range list {
		if err := n.groups.PutGroup(g.Station, g.Name, g.Record); err != nil {
			return fmt.Errorf("cluster: restore group %s/%s: %w", g.Station, g.Name, err)
		}
		offsets := make([]meta.Offset, 0, len(g.Offsets))
		for _, p := range slices.Sorted(maps.Keys(g.Offsets)) {
			offsets = append(offsets, meta.Offset{Station: g.Station, Group: g.Name, Partition: p, Offset: g.Offsets[p]})
		}
		// Deliveries replace the group's counts, clearing them when none.
		d := meta.Deliveries{Station: g.Station, Group: g.Name, Counts: g.Deliveries}
		if err := n.groups.CommitOffsets(offsets, d); err != nil {
			return fmt.Errorf("cluster: restore group %s/%s offsets: %w", g.Station, g.Name, err)
		}
	}
	return nil
}
