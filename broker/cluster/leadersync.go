package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Reading one's own writes on a follower. A token minted on the leader is
// committed there before the login returns, but a follower applies it a
// moment later: a client that then calls the follower would be refused.
// SyncWithLeader closes that gap: the follower learns the leader's commit
// index, applies that far and lets the auth holder reload. Calls are
// coalesced (one sync runs at a time, and every call that arrives while
// it runs shares the next one), so a burst of unknown tokens costs one
// round trip to the leader per sync, not one per token.

// errNoLeaderIndex is SyncWithLeader's failure when no leader told this
// node its commit index.
var errNoLeaderIndex = errors.New("cluster: no leader answered with its commit index")

// syncPoll is how often a sync looks whether this node applied far enough.
const syncPoll = 2 * time.Millisecond

// SyncWithLeader waits until this node has applied everything the leader
// had committed when it was called, and its users and tokens were
// reloaded from what it applied (see OnAuthChange). It fails when no
// leader answers, or when ctx ends first.
func (n *Node) SyncWithLeader(ctx context.Context) error {
	return n.leaderSync.wait(ctx, n.syncWithLeader)
}

func (n *Node) syncWithLeader(ctx context.Context) error {
	target := n.leaderCommitIndex(ctx)
	if target == 0 {
		return errNoLeaderIndex
	}
	t := time.NewTicker(syncPoll)
	defer t.Stop()
	for !n.appliedThrough(target) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: applying up to the leader's commit index %d: %w", target, ctx.Err())
		case <-n.stop:
			return raft.ErrRaftShutdown
		case <-t.C:
		}
	}
	seq := n.authSeq.Load()
	for n.onAuth != nil && n.authReloaded.Load() < seq {
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: reloading users and tokens: %w", ctx.Err())
		case <-n.stop:
			return raft.ErrRaftShutdown
		case <-t.C:
		}
	}
	return nil
}

// appliedThrough reports whether the FSM has applied the entries up to
// index: it applied them one by one, or installed a snapshot holding them
// (which it applied no entry after yet).
func (n *Node) appliedThrough(index uint64) bool {
	if n.fsmApplied.Load() >= index {
		return true
	}
	if n.raft.AppliedIndex() < index {
		return false
	}
	snap, err := strconv.ParseUint(n.raft.Stats()["last_snapshot_index"], 10, 64)
	return err == nil && snap >= index
}

// untilClosed returns a context of parent that also ends when the node
// closes, and after timeout when it is positive.
func (n *Node) untilClosed(parent context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	var ctx context.Context
	var cancel context.CancelFunc
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(parent, timeout)
	} else {
		ctx, cancel = context.WithCancel(parent)
	}
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// coalescer runs one call of a function at a time for many waiters: a
// waiter gets the outcome of a call that started after it arrived, so it
// observes everything that happened before it asked.
type coalescer struct {
	mu      sync.Mutex
	running bool
	next    *coalesced // the call the waiters arriving now share
}

type coalesced struct {
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// coalescedTimeout bounds one call: its waiters may have longer deadlines,
// but one call outliving them all would hold up the next.
const coalescedTimeout = 5 * time.Second

// wait shares the next call of fn with the waiters that arrive before it
// starts, and returns its error, or ctx's when ctx ends first.
func (c *coalescer) wait(ctx context.Context, fn func(context.Context) error) error {
	c.mu.Lock()
	call := c.next
	if call == nil {
		cctx, cancel := context.WithTimeout(context.Background(), coalescedTimeout)
		call = &coalesced{ctx: cctx, cancel: cancel, done: make(chan struct{})}
		c.next = call
		if !c.running {
			c.running = true
			go c.run(fn)
		}
	}
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run makes the calls until no waiter is left for another.
func (c *coalescer) run(fn func(context.Context) error) {
	for {
		c.mu.Lock()
		call := c.next
		c.next = nil
		if call == nil {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		call.err = fn(call.ctx)
		call.cancel()
		close(call.done)
	}
}
