package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/junctionhq/junction/broker"
)

// An operator's `junction station repair` on a cluster member: nothing
// is skipped or cut, since the other nodes hold every acknowledged
// record. The partition is verified now, and a damaged one is rebuilt
// from the leader's copy by the node's own repair (repair.go: demote,
// rebuild, vote again); Repair waits for that.

var _ broker.Repairer = (*replicatedLog)(nil)

// Scrub verifies nothing: the node verifies its replicated logs itself
// (scrubAll), so the broker's background scrub does not do it twice.
func (l *replicatedLog) Scrub(context.Context, int64) (int64, error) { return 0, nil }

// Repair verifies the partition and, when it is damaged, waits until the
// node has rebuilt it from the leader's copy. It reports no ranges:
// nothing is lost. mode (skip or cut) does not apply to a cluster member.
// It fails when ctx ends first, the rebuild going on.
func (l *replicatedLog) Repair(ctx context.Context, _ broker.RepairMode) ([]broker.Repaired, error) {
	l.localMu.RLock()
	r, ok := l.local.(broker.Repairer)
	var err error
	if ok && !l.closed {
		_, err = r.Scrub(ctx, 0)
	}
	l.localMu.RUnlock()
	switch {
	case !ok:
		return nil, fmt.Errorf("its log cannot be verified")
	case err != nil:
		return nil, fmt.Errorf("verify: %w", err)
	case !l.State().Corrupt():
		return nil, nil
	}
	if start, _ := l.Bounds(); start != 0 {
		return nil, fmt.Errorf("its log starts at offset %d, after retention: rebuilding it from another node is not supported; stop the node and replace its data", start)
	}
	l.n.log.Warn("station repair: the partition is rebuilt from the leader's copy", "station", l.station, "partition", l.partition)
	t := time.NewTicker(healthInterval)
	defer t.Stop()
	for l.State().Corrupt() {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the partition is still being rebuilt from the leader's copy (junction cluster status shows this node repairing): %w", ctx.Err())
		case <-l.n.stop:
			return nil, broker.ErrClosed
		case <-t.C:
		}
	}
	return nil, nil
}
