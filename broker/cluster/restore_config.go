package cluster

import (
	"context"
	"fmt"

	"github.com/junctionhq/junction/broker"
)

// settingsUpdate is the update that brings a station's local settings
// have to the settings want of a snapshot, and whether any differ. It
// covers what an UpdateStation entry may change; partitions only grow, so
// a snapshot with fewer than have is left to the caller. The schema
// attachment is restored with the schema registry.
func settingsUpdate(have, want broker.StationConfig) (broker.StationUpdate, bool) {
	var u broker.StationUpdate
	changed := false
	if have.Retention != want.Retention {
		u.Retention, changed = &want.Retention, true
	}
	if have.DedupWindow != want.DedupWindow {
		u.DedupWindow, changed = &want.DedupWindow, true
	}
	if have.DeadLetterStation != want.DeadLetterStation {
		u.DeadLetterStation, changed = &want.DeadLetterStation, true
	}
	if have.MaxDeliveries != want.MaxDeliveries {
		u.MaxDeliveries, changed = &want.MaxDeliveries, true
	}
	if have.MaxMessageBytes != want.MaxMessageBytes {
		u.MaxMessageBytes, changed = &want.MaxMessageBytes, true
	}
	if want.Partitions > have.Partitions {
		u.Partitions, changed = &want.Partitions, true
	}
	return u, changed
}

// restoreSettings gives the local station have the settings want of a
// snapshot, the way an UpdateStation entry would have.
func (n *Node) restoreSettings(ctx context.Context, b *broker.Broker, have, want broker.StationConfig) error {
	if want.Partitions < have.Partitions {
		n.log.Error("a station has more partitions than the leader's snapshot; keeping them for an operator", "station", have.Name, "have", have.Partitions, "snapshot", want.Partitions)
	}
	u, ok := settingsUpdate(have, want)
	if !ok {
		return nil
	}
	if _, err := b.ApplyStationChange(ctx, broker.StationChange{Op: broker.OpUpdateStation, Name: have.Name, Update: &u}); err != nil {
		return fmt.Errorf("cluster: restore: update station %q: %w", have.Name, err)
	}
	n.log.Info("brought a station's settings up to the leader's snapshot", "station", have.Name)
	return nil
}
