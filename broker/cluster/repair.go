package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/raft"

	"github.com/junctionhq/junction/broker"
)

// A node whose logs fail their checksums must not vote or lead on them,
// and must get its copy back from the others without deleting anything:
//
//  1. Before raft starts, the node verifies every partition (a scrub);
//     afterwards it watches for damage that reads or the background scrub
//     find.
//  2. A damaged node hands leadership away if it has it (and takes no
//     produce meanwhile), and asks the leader to demote it to a
//     non-voter (registered as repairing, which `cluster status` shows).
//     The leader refuses when that would leave fewer voters than a
//     majority of the current ones. Meanwhile, and from before raft
//     starts, its transport refuses every vote and pre-vote request
//     (voteguard.go).
//  3. Once a non-voter, it rebuilds each damaged partition from the
//     leader's copy in a directory beside it, swaps it in while no entry
//     is being applied, and moves the damaged directory under
//     DATA/quarantine for an operator: nothing is deleted.
//  4. With no damage left, it asks the leader to make it a voter again.

// healthInterval is how often a node looks for damage and moves its
// repair along.
const healthInterval = 500 * time.Millisecond

// errRebuildPartial is matched by rebuild errors that leave the damaged
// partition in place, to be tried again.
var errRebuildPartial = errors.New("rebuild not finished")

// scrubAll verifies every partition log, reading at most rate bytes per
// second (0: no limit), and returns the damaged ones. The broker's own
// background scrub passes over replicated logs, so the node runs it.
func (n *Node) scrubAll(ctx context.Context, rate int64) []*replicatedLog {
	for _, rl := range n.openLogs() {
		if ctx.Err() != nil {
			break
		}
		rl.localMu.RLock()
		r, ok := rl.local.(broker.Repairer)
		if ok && !rl.closed {
			if _, err := r.Scrub(ctx, rate); err != nil && ctx.Err() == nil {
				n.log.Error("verify a partition", "station", rl.station, "partition", rl.partition, "err", err)
			}
		}
		rl.localMu.RUnlock()
	}
	return n.damaged()
}

func (n *Node) openLogs() []*replicatedLog {
	n.logsMu.Lock()
	defer n.logsMu.Unlock()
	out := make([]*replicatedLog, 0, len(n.logs))
	for _, rl := range n.logs {
		out = append(out, rl)
	}
	slices.SortFunc(out, func(a, b *replicatedLog) int {
		if a.station != b.station {
			if a.station < b.station {
				return -1
			}
			return 1
		}
		return int(a.partition) - int(b.partition)
	})
	return out
}

// damaged returns the partition logs with damage awaiting repair.
func (n *Node) damaged() []*replicatedLog {
	var out []*replicatedLog
	for _, rl := range n.openLogs() {
		if rl.State().Corrupt() {
			out = append(out, rl)
		}
	}
	return out
}

// watchHealth moves a damaged node through its repair (see the top of
// this file) until the node closes.
func (n *Node) watchHealth() {
	defer n.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-n.stop
		cancel()
	}()
	scrubbed := make(chan struct{})
	defer func() { <-scrubbed }()
	go func() {
		defer close(scrubbed)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(broker.DefaultScrubInterval):
			}
			n.scrubAll(ctx, broker.DefaultScrubBytesPerSecond)
		}
	}()
	t := time.NewTicker(healthInterval)
	defer t.Stop()
	var lastErr string
	var lastLogged time.Time
	for {
		// The same failure is logged once a minute, not every tick.
		if err := n.checkHealth(ctx); err != nil && ctx.Err() == nil &&
			(err.Error() != lastErr || time.Since(lastLogged) > time.Minute) {
			n.log.Warn("repair damaged partitions", "err", err)
			lastErr, lastLogged = err.Error(), time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkHealth takes the next step of a repair, or of filling partitions
// short of the last snapshot (short.go), if one is due.
func (n *Node) checkHealth(ctx context.Context) error {
	bad := n.damaged()
	short := n.shortLogs()
	self, _ := n.node(n.cfg.NodeID)
	if len(short) == 0 && n.shorted.Swap(false) {
		n.log.Info("every partition holds the records of the last snapshot")
	}
	if len(bad) == 0 && len(short) == 0 {
		n.repairLogged = false
		if n.repairing.Swap(false) {
			n.log.Info("every damaged partition is rebuilt")
		}
		if !self.Repairing {
			return nil
		}
		// Repaired, but still registered as repairing: be a voter again.
		if err := n.askLeader(ctx, false); err != nil {
			return fmt.Errorf("ask to vote again: %w", err)
		}
		n.log.Info("repaired; a voter again")
		return nil
	}
	if len(bad) > 0 && (!n.repairing.Swap(true) || !n.repairLogged) {
		n.repairLogged = true
		for _, rl := range bad {
			n.log.Error("partition damaged: this node stops voting and rebuilds it from the leader's copy",
				"station", rl.station, "partition", rl.partition, "damaged_ranges", len(rl.State().Damaged))
		}
	}
	if n.leaderDialAddr() == "" {
		return nil // nothing to do until a leader is known
	}
	if n.IsLeader() {
		n.log.Warn("damaged or short partitions: handing leadership over")
		if err := n.raft.LeadershipTransfer().Error(); err != nil {
			return fmt.Errorf("hand leadership over: %w", err)
		}
		return nil
	}
	var fillErr error
	if len(short) > 0 {
		// Filling needs no change of vote: it only appends what the
		// partition lacks.
		if fillErr = n.fillAll(ctx, short); fillErr == nil && len(bad) == 0 {
			return nil // the next tick makes it a voter again
		}
	}
	if voter, err := n.isVoter(); err != nil || voter || !self.Repairing {
		if err != nil {
			return errors.Join(fillErr, err)
		}
		if err := n.askLeader(ctx, true); err != nil {
			return errors.Join(fillErr, fmt.Errorf("ask to stop voting: %w", err))
		}
		return fillErr
	}
	for _, rl := range bad {
		if err := n.rebuild(ctx, rl); err != nil {
			return errors.Join(fillErr, fmt.Errorf("station %q partition %d: %w", rl.station, rl.partition, err))
		}
	}
	return fillErr
}

// isVoter reports whether this node votes in the current configuration.
func (n *Node) isVoter() (bool, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return false, n.raftErr(err)
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == raft.ServerID(n.cfg.NodeID) {
			return s.Suffrage == raft.Voter, nil
		}
	}
	return false, nil
}

// askLeader asks the leader to demote this node to a repairing
// non-voter, or to make it a voter again.
func (n *Node) askLeader(ctx context.Context, repairing bool) error {
	addr := n.leaderDialAddr()
	if addr == "" {
		return errors.New("no leader known")
	}
	return askToJoin(ctx, n.peers, addr, nodeInfo{ID: n.cfg.NodeID, Raft: n.cfg.RaftAdvertise, API: n.apiAddr, Repairing: repairing})
}

// rebuild replaces a damaged partition log by a copy of the leader's. The
// damaged directory is moved under DATA/quarantine, never deleted.
func (n *Node) rebuild(ctx context.Context, rl *replicatedLog) error {
	b := n.fsm.b
	if start, _ := rl.Bounds(); start != 0 {
		return fmt.Errorf("its log starts at offset %d, after retention: rebuilding it from another node is not supported; stop the node and replace its data", start)
	}
	leader := n.leaderDialAddr()
	if leader == "" {
		return fmt.Errorf("%w: no leader to copy from", errRebuildPartial)
	}
	dir := b.PartitionDir(rl.station, rl.partition)
	staging := filepath.Join(n.cfg.DataDir, "rebuild", rl.station, strconv.FormatUint(uint64(rl.partition), 10))
	if err := os.MkdirAll(filepath.Dir(staging), 0o755); err != nil {
		return err
	}
	// A copy an interrupted rebuild left: only records fetched again.
	if err := os.RemoveAll(staging); err != nil {
		return err
	}
	staged, err := b.OpenPartitionLog(rl.station, rl.partition, staging)
	if err != nil {
		return err
	}
	closeStaged := true
	defer func() {
		if closeStaged {
			staged.Close()
		}
	}()
	_, target := rl.Bounds()
	fetched, err := copyRecords(ctx, n.peers, leader, rl.station, rl.partition, staged, target, nil)
	if err != nil {
		return fmt.Errorf("%w: copy from the leader: %w", errRebuildPartial, err)
	}
	// Catch up with what was applied meanwhile, applying nothing more
	// until the copy is in place.
	n.applyMu.Lock()
	defer n.applyMu.Unlock()
	_, target = rl.Bounds()
	k, err := copyRecords(ctx, n.peers, leader, rl.station, rl.partition, staged, target, nil)
	fetched += k
	if err != nil {
		return fmt.Errorf("%w: copy from the leader: %w", errRebuildPartial, err)
	}
	if _, next := staged.Bounds(); next != target {
		return fmt.Errorf("%w: the copy ends at offset %d, not %d", errRebuildPartial, next, target)
	}
	closeStaged = false
	if err := staged.Close(); err != nil {
		return fmt.Errorf("%w: close the copy: %w", errRebuildPartial, err)
	}

	rl.localMu.Lock()
	defer rl.localMu.Unlock()
	if rl.closed {
		return fmt.Errorf("%w: the station was closed", errRebuildPartial)
	}
	quarantine := filepath.Join(n.cfg.DataDir, "quarantine", rl.station,
		strconv.FormatUint(uint64(rl.partition), 10)+"-"+time.Now().UTC().Format("20060102T150405.000000000"))
	if err := os.MkdirAll(filepath.Dir(quarantine), 0o755); err != nil {
		return fmt.Errorf("%w: %w", errRebuildPartial, err)
	}
	if err := rl.local.Close(); err != nil {
		n.log.Warn("close a damaged partition log", "station", rl.station, "partition", rl.partition, "err", err)
	}
	if err := os.Rename(dir, quarantine); err != nil {
		return n.reopen(rl, dir, fmt.Errorf("%w: quarantine %s: %w", errRebuildPartial, dir, err))
	}
	if err := os.Rename(staging, dir); err != nil {
		if uerr := os.Rename(quarantine, dir); uerr != nil {
			return fmt.Errorf("move the rebuilt copy %s into place: %w; and moving the damaged one back from %s: %w", staging, err, quarantine, uerr)
		}
		return n.reopen(rl, dir, fmt.Errorf("%w: move the rebuilt copy into place: %w", errRebuildPartial, err))
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		n.log.Warn("fsync a station directory", "dir", filepath.Dir(dir), "err", err)
	}
	if err := n.reopen(rl, dir, nil); err != nil {
		return err
	}
	n.log.Warn("partition rebuilt from the leader's copy; the damaged files are kept for an operator",
		"station", rl.station, "partition", rl.partition, "records", target, "fetched", fetched, "quarantine", quarantine)
	return nil
}

// reopen opens rl's log from dir again after a rebuild closed it and
// returns cause. rl.localMu is held.
func (n *Node) reopen(rl *replicatedLog, dir string, cause error) error {
	l, err := n.fsm.b.OpenPartitionLog(rl.station, rl.partition, dir)
	if err != nil {
		// Nothing can be read or applied here any more: stop, so that
		// the node is restarted rather than left silently behind.
		n.log.Error("reopen a partition log after a rebuild; stop and restart this node", "station", rl.station, "partition", rl.partition, "err", err)
		return errors.Join(cause, err)
	}
	rl.local = l
	return cause
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
