package broker

import (
	"fmt"
)

// committedHighs returns, per partition, the highest offset any consumer
// group of the station has committed: the log once held everything below
// it, so recovery must not give those offsets out again.
func (b *Broker) committedHighs(stationName string, partitions uint32) ([]uint64, error) {
	highs := make([]uint64, partitions)
	var groups []string
	err := b.groupsDB.Groups(stationName, func(name string, _ []byte) error {
		groups = append(groups, name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("station %q: read group offsets: %w", stationName, err)
	}
	for _, g := range groups {
		offs, err := b.groupsDB.Offsets(stationName, g)
		if err != nil {
			return nil, fmt.Errorf("station %q: read group offsets: %w", stationName, err)
		}
		for p, off := range offs {
			if p < partitions {
				highs[p] = max(highs[p], off)
			}
		}
	}
	return highs, nil
}

// reportIntegrity logs the damage recovery found in the station's
// partitions and every group whose committed offset lies beyond its
// partition's log end, so that neither goes unnoticed.
func (st *station) reportIntegrity() {
	for p, l := range st.logs {
		if s := l.State(); s.Corrupt() {
			for _, d := range s.Damaged {
				st.b.log.Error("partition has corrupt data; it serves what is intact until repaired with junction station repair",
					"station", st.name, "partition", p, "from_offset", d.From, "to_offset", d.To, "segment", d.Segment, "reason", d.Reason)
			}
		}
	}
	for _, g := range st.groupList() {
		for p, gp := range g.info().Partitions {
			if gp.Committed > gp.Next {
				st.b.log.Error("consumer group committed offset is beyond the partition's log end",
					"station", st.name, "group", g.name, "partition", p, "committed", gp.Committed, "log_next_offset", gp.Next)
			}
		}
	}
}

// skipLost moves a group partition's cursor over offsets the log declared
// lost (see seglog.Status), treating them as acknowledged, so that the
// group moves past damage once, and only once, an operator repaired it.
// g.mu is held.
func (g *group) skipLost(pi int, to uint64) {
	p := g.parts[pi]
	from := p.cursor
	g.st.b.log.Warn("consumer group passes over offsets lost to corruption",
		"station", g.st.name, "group", g.name, "partition", pi, "from_offset", from, "to_offset", to)
	if p.commit == from {
		p.acked.reset(to)
		p.commit = p.acked.advance(to)
	} else {
		for off := from; off < to; off++ {
			p.acked.set(off)
		}
	}
	p.cursor = to
	g.dirty = true
}
