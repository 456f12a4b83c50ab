package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestCoalescerSharesTheNextCall: callers arriving while a call runs do
// not take its outcome (it may have started before what they wait for)
// but share one next call; a caller whose context ends stops waiting.
func TestCoalescerSharesTheNextCall(t *testing.T) {
	var c coalescer
	var mu sync.Mutex
	calls := 0
	release := make(chan struct{})
	fn := func(context.Context) error {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		<-release
		return fmt.Errorf("call %d", n)
	}
	first := make(chan error, 1)
	go func() { first <- c.wait(context.Background(), fn) }()
	await(t, "the first call to run", func() bool { mu.Lock(); defer mu.Unlock(); return calls == 1 })

	later := make(chan error, 3)
	for range 3 {
		go func() { later <- c.wait(context.Background(), fn) }()
	}
	await(t, "the later callers to wait for the next call", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.next != nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- c.wait(ctx, fn) }()
	cancel()
	if err := <-gaveUp; err != context.Canceled {
		t.Fatalf("a caller whose context ended: %v, want context.Canceled", err)
	}

	release <- struct{}{}
	if err := <-first; err == nil || err.Error() != "call 1" {
		t.Fatalf("first caller: %v, want call 1", err)
	}
	release <- struct{}{}
	for range 3 {
		if err := <-later; err == nil || err.Error() != "call 2" {
			t.Fatalf("later caller: %v, want call 2", err)
		}
	}
	await(t, "the runner to stop", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return !c.running })
	if calls != 2 {
		t.Fatalf("%d calls, want 2", calls)
	}
}
