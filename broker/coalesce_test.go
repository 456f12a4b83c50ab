package broker

import (
	"context"
	"testing"
	"time"
)

// pullAsync runs a pull in the background, for at most 10s.
func pullAsync(t *testing.T, b *Broker, o PullOptions) <-chan []Delivery {
	out := make(chan []Delivery, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	go func() {
		defer cancel()
		ds, _ := b.Pull(ctx, "s", "g", o)
		out <- ds
	}()
	return out
}

func TestPullWaitsForMinMessages(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 2)
	// Two are ready; the pull holds on until five are.
	got := pullAsync(t, b, PullOptions{Max: 100, MinMessages: 5, BatchWait: time.Hour, MaxWait: time.Hour})
	produceN(t, b, "s", 2, 1)
	produceN(t, b, "s", 3, 2)
	if ds := <-got; len(ds) != 5 {
		t.Fatalf("pulled %d messages, want the 5 asked for", len(ds))
	}
}

func TestPullBatchWaitEndsCoalescing(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 2)
	ds, err := b.Pull(t.Context(), "s", "g", PullOptions{Max: 100, MinMessages: 5, BatchWait: 10 * time.Millisecond, MaxWait: time.Hour})
	if err != nil || len(ds) != 2 {
		t.Fatalf("pulled %d messages (%v), want the 2 ready once the batch wait passed", len(ds), err)
	}
	// MaxWait, which bounds the wait for the first message, also ends it.
	produceN(t, b, "s", 2, 2)
	ds, err = b.Pull(t.Context(), "s", "g", PullOptions{Max: 100, MinMessages: 5, BatchWait: time.Hour, MaxWait: 10 * time.Millisecond})
	if err != nil || len(ds) != 2 {
		t.Fatalf("pulled %d messages (%v), want the 2 ready once the max wait passed", len(ds), err)
	}
	// Nothing ready: the pull waits for the first message as always.
	ds, err = b.Pull(t.Context(), "s", "g", PullOptions{Max: 100, MinMessages: 5, BatchWait: time.Hour, MaxWait: 10 * time.Millisecond})
	if err != nil || len(ds) != 0 {
		t.Fatalf("pulled %d messages (%v) from an empty backlog", len(ds), err)
	}
}

func TestPullDueRedeliveryEndsCoalescing(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 1)
	ds, err := b.Pull(t.Context(), "s", "g", PullOptions{Max: 1, MaxWait: time.Second})
	if err != nil || len(ds) != 1 {
		t.Fatalf("first pull: %d messages, %v", len(ds), err)
	}
	if err := b.Nack(t.Context(), "s", "g", []MessageRef{{0, ds[0].Record.Offset}}, 0); err != nil {
		t.Fatal(err)
	}
	produceN(t, b, "s", 1, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ds, err = b.Pull(ctx, "s", "g", PullOptions{Max: 100, MinMessages: 5, BatchWait: time.Hour, MaxWait: time.Hour})
	if err != nil || len(ds) == 0 || ds[0].DeliveryCount != 2 {
		t.Fatalf("pull with a redelivery due: %d messages, %v; want it at once", len(ds), err)
	}
}

func TestPullWithoutMinMessagesAnswersAtOnce(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 2)
	for _, o := range []PullOptions{
		{Max: 100, MinMessages: 1, BatchWait: time.Hour},
		{Max: 100, MinMessages: 50},
		{Max: 1, MinMessages: 50, BatchWait: time.Hour},
	} {
		o.MaxWait = time.Hour
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		ds, err := b.Pull(ctx, "s", "g", o)
		cancel()
		if err != nil || len(ds) == 0 {
			t.Fatalf("pull %+v: %d messages, %v; want what is ready at once", o, len(ds), err)
		}
		if err := b.Ack(t.Context(), "s", "g", []MessageRef{{0, ds[0].Record.Offset}}); err != nil {
			t.Fatal(err)
		}
		produceN(t, b, "s", 2, 1)
	}
}
