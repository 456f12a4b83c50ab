package broker

import (
	"context"
	"errors"
	"testing"
	"time"
)

func refsOf(ds []Delivery) []MessageRef {
	refs := make([]MessageRef, len(ds))
	for i, d := range ds {
		refs[i] = MessageRef{d.Partition, d.Record.Offset}
	}
	return refs
}

// A nack delay is bounded, and messages waiting for their delay do not
// hold max_ack_pending slots: the group keeps flowing.
func TestNackedMessagesDoNotStallTheGroup(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 10)
	ctx := context.Background()
	opts := PullOptions{Max: 10, MaxWait: time.Second, Config: GroupConfig{MaxAckPending: 5}}
	ds, err := b.Pull(ctx, "s", "g", opts)
	if err != nil || len(ds) != 5 {
		t.Fatalf("first pull: %d, %v", len(ds), err)
	}
	if err := b.Nack(ctx, "s", "g", refsOf(ds), 10000*24*time.Hour); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("a 10,000-day nack delay: %v, want invalid argument", err)
	}
	if err := b.Nack(ctx, "s", "g", refsOf(ds), time.Hour); err != nil {
		t.Fatal(err)
	}
	ds, err = b.Pull(ctx, "s", "g", opts)
	if err != nil || len(ds) != 5 || ds[0].Record.Offset != 5 {
		t.Fatalf("pull after five delayed nacks got %d messages (%v); want the next 5", len(ds), err)
	}
	if gi, _ := b.Group("s", "g"); gi.Pending != 5 {
		t.Fatalf("pending = %d, want 5 (the delayed ones do not count)", gi.Pending)
	}
}

// Delivery counts survive a restart, so max_deliveries still sends a
// poison message to the dead-letter station.
func TestDeliveryCountsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir)
	mustCreate(t, b, StationConfig{Name: "s", MaxDeliveries: 3, DeadLetterStation: "dlq"})
	produceN(t, b, "s", 0, 1)
	ctx := context.Background()
	for want := uint32(1); want <= 2; want++ {
		ds, err := b.Pull(ctx, "s", "g", PullOptions{Max: 1, MaxWait: time.Second})
		if err != nil || len(ds) != 1 || ds[0].DeliveryCount != want {
			t.Fatalf("delivery %d: %+v, %v", want, ds, err)
		}
		if err := b.Nack(ctx, "s", "g", refsOf(ds), 0); err != nil {
			t.Fatal(err)
		}
	}
	// The second nack scheduled a third delivery; the count so far (2) is
	// checkpointed with the offsets.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openTest(t, dir)
	ds, err := b.Pull(ctx, "s", "g", PullOptions{Max: 1, MaxWait: time.Second})
	if err != nil || len(ds) != 1 || ds[0].DeliveryCount != 3 {
		t.Fatalf("first delivery after restart: %+v, %v; want delivery count 3", ds, err)
	}
	if err := b.Nack(ctx, "s", "g", refsOf(ds), 0); err != nil {
		t.Fatal(err)
	}
	b.Pull(ctx, "s", "g", PullOptions{Max: 1, MaxWait: 100 * time.Millisecond})
	if _, stats, err := b.Station("dlq"); err != nil || stats.Messages != 1 {
		t.Fatalf("dead-letter station after the third failed delivery: %+v, %v", stats, err)
	}
}

// Deliveries awaiting ack across all groups stay within the broker's
// budget; a group past it gets nothing new until acks make room.
func TestPendingDeliveriesShareOneBudget(t *testing.T) {
	b := openTest(t, t.TempDir(), func(o *Options) { o.MaxPendingBytes = 100 * PendingEntryBytes })
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 200)
	ctx := context.Background()
	opts := PullOptions{Max: 80, MaxWait: 50 * time.Millisecond, Config: GroupConfig{MaxAckPending: 1000}}
	first, err := b.Pull(ctx, "s", "a", opts)
	if err != nil || len(first) != 80 {
		t.Fatalf("group a: %d, %v", len(first), err)
	}
	second, err := b.Pull(ctx, "s", "b", opts)
	if err != nil || len(second) != 20 {
		t.Fatalf("group b got %d messages with room for 20 left: %v", len(second), err)
	}
	if n := b.pendingEntries.Load(); n*PendingEntryBytes > b.opts.MaxPendingBytes {
		t.Fatalf("%d pending entries charged, over the budget of %d", n, b.opts.MaxPendingBytes/PendingEntryBytes)
	}
	if err := b.Ack(ctx, "s", "a", refsOf(first[:50])); err != nil {
		t.Fatal(err)
	}
	more, err := b.Pull(ctx, "s", "b", opts)
	if err != nil || len(more) != 50 {
		t.Fatalf("group b after a's acks: %d, %v; want the 50 freed", len(more), err)
	}
}

// The ack-deadline queue follows what is pending, not the delivery rate
// times the deadline.
func TestAckDeadlineQueueFollowsPending(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 20000)
	ctx := context.Background()
	opts := PullOptions{Max: 500, MaxWait: time.Second, Config: GroupConfig{AckDeadline: time.Hour}}
	for got := 0; got < 20000; {
		ds, err := b.Pull(ctx, "s", "g", opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Ack(ctx, "s", "g", refsOf(ds)); err != nil {
			t.Fatal(err)
		}
		got += len(ds)
	}
	g, _ := b.existingGroup("s", "g")
	g.mu.Lock()
	n := g.expiries.len()
	g.mu.Unlock()
	if n > 2*500+1024 {
		t.Fatalf("ack-deadline queue holds %d entries with nothing pending", n)
	}
	if b.pendingEntries.Load() != 0 {
		t.Fatalf("%d pending entries charged after everything was acked", b.pendingEntries.Load())
	}
}
