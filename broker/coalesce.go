package broker

import "time"

// coalescer holds a pull back while fewer than its minimum of messages are
// ready, for at most its batch wait from when the first one was seen, so
// that a member consuming a steady flow takes a batch per wake-up rather
// than the few messages of each group commit. A nil coalescer never holds
// a pull back. It belongs to one pull.
type coalescer struct {
	min    int
	linger time.Duration
	timer  *time.Timer // started when the first message was seen ready
	done   bool        // the batch wait is over: take what is ready
}

// newCoalescer returns the coalescer of a pull with o, or nil when o asks
// for none.
func newCoalescer(o PullOptions) *coalescer {
	if o.MinMessages <= 1 || o.BatchWait <= 0 || o.Max <= 1 {
		return nil
	}
	return &coalescer{min: min(o.MinMessages, o.Max), linger: o.BatchWait}
}

// wait returns a channel that fires when the batch wait ends if the pull
// should wait for more messages, or nil if it should take what is ready
// now: the wait is over, nothing is ready (the pull waits for the first
// message as usual), the minimum is ready, or a redelivery is due. g.mu
// is held.
func (c *coalescer) wait(g *group) <-chan time.Time {
	if c == nil || c.done || g.deleted || g.closed {
		return nil
	}
	n := g.backlog(c.min)
	if n == 0 || n >= c.min {
		return nil
	}
	if next := g.nextDue(); !next.IsZero() && !next.After(g.st.b.now()) {
		return nil
	}
	if c.timer == nil {
		c.timer = time.NewTimer(c.linger)
	}
	return c.timer.C
}

// expired ends the batch wait.
func (c *coalescer) expired() {
	if c != nil {
		c.done = true
	}
}

func (c *coalescer) stop() {
	if c != nil && c.timer != nil {
		c.timer.Stop()
	}
}

// backlog returns how many messages the logs hold past the group's
// cursors, counting up to limit. g.mu is held.
func (g *group) backlog(limit int) int {
	n := 0
	for i, p := range g.parts {
		if _, next := g.st.logs[i].Bounds(); next > p.cursor {
			n += int(min(next-p.cursor, uint64(limit)))
			if n >= limit {
				break
			}
		}
	}
	return n
}
