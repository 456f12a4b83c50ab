package par

import (
	"sync/atomic"
	"testing"
)

// For calls every index once and never runs more than limit at a time.
func TestForBoundsConcurrency(t *testing.T) {
	const n, limit = 200, 4
	var running, peak atomic.Int32
	seen := make([]atomic.Int32, n)
	For(n, limit, func(i int) {
		now := running.Add(1)
		for {
			p := peak.Load()
			if now <= p || peak.CompareAndSwap(p, now) {
				break
			}
		}
		seen[i].Add(1)
		running.Add(-1)
	})
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			t.Fatalf("fn(%d) called %d times, want once", i, c)
		}
	}
	if p := peak.Load(); p > limit {
		t.Fatalf("%d calls ran at once, want at most %d", p, limit)
	}
}
