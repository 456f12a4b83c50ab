package broker

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T, dir string, opts ...func(*Options)) *Broker {
	t.Helper()
	o := Options{Logger: slog.New(slog.DiscardHandler), DataDir: dir, SegmentBytes: 4096, RetentionInterval: time.Hour, CommitInterval: 10 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	b, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func mustCreate(t *testing.T, b *Broker, cfg StationConfig) {
	t.Helper()
	if _, err := b.CreateStation(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
}

func produceN(t *testing.T, b *Broker, station string, from, n int) {
	t.Helper()
	const batch = 100
	for i := from; i < from+n; i += batch {
		var msgs []Message
		for j := i; j < min(i+batch, from+n); j++ {
			msgs = append(msgs, Message{Value: []byte(strconv.Itoa(j))})
		}
		if _, err := b.Produce(context.Background(), station, msgs); err != nil {
			t.Fatal(err)
		}
	}
}

// pullAll pulls and acks until n messages arrived, returning their values.
func pullAll(t *testing.T, b *Broker, station, group string, n int) []string {
	t.Helper()
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("pulled %d of %d messages before the deadline", len(got), n)
		}
		ds, err := b.Pull(context.Background(), station, group, PullOptions{Max: min(500, n-len(got)), MaxWait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var refs []MessageRef
		for _, d := range ds {
			got = append(got, string(d.Record.Value))
			refs = append(refs, MessageRef{d.Partition, d.Record.Offset})
		}
		if err := b.Ack(t.Context(), station, group, refs); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

func wantSequence(t *testing.T, got []string, from, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("got %d messages, want %d", len(got), n)
	}
	for i, v := range got {
		if v != strconv.Itoa(from+i) {
			t.Fatalf("message %d = %q, want %d", i, v, from+i)
		}
	}
}

func TestProduceConsumeInOrder(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "orders"})
	produceN(t, b, "orders", 0, 5000)
	wantSequence(t, pullAll(t, b, "orders", "g", 5000), 0, 5000)
	gi, err := b.Group("orders", "g")
	if err != nil {
		t.Fatal(err)
	}
	if gi.Lag != 0 || gi.Pending != 0 || gi.Partitions[0].Committed != 5000 {
		t.Fatalf("group after acking everything: %+v", gi)
	}
}

func TestRestartResumesFromCommittedOffset(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir)
	mustCreate(t, b, StationConfig{Name: "orders"})
	produceN(t, b, "orders", 0, 1000)
	wantSequence(t, pullAll(t, b, "orders", "g", 300), 0, 300)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openTest(t, dir)
	produceN(t, b, "orders", 1000, 100)
	wantSequence(t, pullAll(t, b, "orders", "g", 800), 300, 800)
}

func TestTwoGroupsEachGetEverything(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s", Partitions: 3})
	produceN(t, b, "s", 0, 3000)
	for _, g := range []string{"a", "b"} {
		got := pullAll(t, b, "s", g, 3000)
		seen := make(map[string]bool)
		for _, v := range got {
			seen[v] = true
		}
		if len(seen) != 3000 {
			t.Fatalf("group %s saw %d distinct messages, want 3000", g, len(seen))
		}
	}
}

func TestCompetingConsumersSplitMessages(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s", Partitions: 2})
	const n = 4000
	produceN(t, b, "s", 0, n)
	var mu sync.Mutex
	seen := make(map[string]int)
	perMember := make([]int, 3)
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for m := range perMember {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				ds, err := b.Pull(ctx, "s", "g", PullOptions{Max: 50, MaxWait: 100 * time.Millisecond})
				if err != nil {
					return
				}
				var refs []MessageRef
				mu.Lock()
				for _, d := range ds {
					seen[string(d.Record.Value)]++
					refs = append(refs, MessageRef{d.Partition, d.Record.Offset})
				}
				perMember[m] += len(ds)
				done := len(seen) == n
				mu.Unlock()
				if err := b.Ack(ctx, "s", "g", refs); err != nil {
					t.Error(err)
				}
				if done {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("members saw %d distinct messages, want %d", len(seen), n)
	}
	for v, c := range seen {
		if c != 1 {
			t.Fatalf("message %s delivered %d times to the group", v, c)
		}
	}
	total := 0
	for _, c := range perMember {
		total += c
	}
	if total != n {
		t.Fatalf("members got %d deliveries in all, want %d (%v)", total, n, perMember)
	}
}

func TestRedeliveryAfterAckDeadline(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 3)
	cfg := GroupConfig{AckDeadline: 50 * time.Millisecond}
	ds, err := b.Pull(context.Background(), "s", "g", PullOptions{Max: 10, MaxWait: time.Second, Config: cfg})
	if err != nil || len(ds) != 3 {
		t.Fatalf("first pull: %d messages, err %v", len(ds), err)
	}
	if err := b.Ack(t.Context(), "s", "g", []MessageRef{{0, 0}, {0, 2}}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ds, err = b.Pull(context.Background(), "s", "g", PullOptions{Max: 10, MaxWait: 5 * time.Second, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Record.Offset != 1 || ds[0].DeliveryCount != 2 {
		t.Fatalf("redelivery = %+v, want offset 1 delivered the 2nd time", ds)
	}
	if waited := time.Since(start); waited < 40*time.Millisecond {
		t.Fatalf("redelivered after %s, before the 50ms ack deadline", waited)
	}
	if err := b.Ack(t.Context(), "s", "g", []MessageRef{{0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ack(t.Context(), "s", "g", []MessageRef{{0, 1}}); !errors.Is(err, ErrNotPending) {
		t.Fatalf("second ack of the same message: err = %v, want ErrNotPending", err)
	}
	if gi, _ := b.Group("s", "g"); gi.Partitions[0].Committed != 3 {
		t.Fatalf("committed = %d, want 3", gi.Partitions[0].Committed)
	}
}

func TestNackWithDelayAndDeadLetter(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "dlq"})
	mustCreate(t, b, StationConfig{Name: "s", DeadLetterStation: "dlq", MaxDeliveries: 3})
	produceN(t, b, "s", 0, 2)
	ctx := context.Background()
	for attempt := 1; attempt <= 3; attempt++ {
		ds, err := b.Pull(ctx, "s", "g", PullOptions{Max: 10, MaxWait: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		var bad []MessageRef
		for _, d := range ds {
			if d.DeliveryCount != uint32(attempt) {
				t.Fatalf("attempt %d: delivery count %d", attempt, d.DeliveryCount)
			}
			if string(d.Record.Value) == "0" {
				bad = append(bad, MessageRef{d.Partition, d.Record.Offset})
			} else if err := b.Ack(ctx, "s", "g", []MessageRef{{d.Partition, d.Record.Offset}}); err != nil {
				t.Fatal(err)
			}
		}
		if len(bad) != 1 {
			t.Fatalf("attempt %d: message 0 not delivered: %+v", attempt, ds)
		}
		if err := b.Nack(ctx, "s", "g", bad, 10*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	// The fourth delivery would exceed max_deliveries: it goes to the DLQ.
	ds, err := b.Pull(ctx, "s", "g", PullOptions{Max: 10, MaxWait: 200 * time.Millisecond})
	if err != nil || len(ds) != 0 {
		t.Fatalf("pull after max deliveries: %d messages, err %v", len(ds), err)
	}
	dead := pullAll(t, b, "dlq", "inspect", 1)
	if dead[0] != "0" {
		t.Fatalf("dead-lettered %q, want 0", dead[0])
	}
	ds, _ = b.Pull(ctx, "dlq", "inspect2", PullOptions{Max: 1, MaxWait: time.Second})
	hdr := map[string]string{}
	for _, h := range ds[0].Record.Headers {
		hdr[h.Key] = string(h.Value)
	}
	want := map[string]string{HeaderDLQReason: "max_deliveries", HeaderDLQStation: "s", HeaderDLQGroup: "g", HeaderDLQOffset: "0", HeaderDLQPartition: "0", HeaderDLQDeliveries: "3"}
	for k, v := range want {
		if hdr[k] != v {
			t.Errorf("dead-letter header %s = %q, want %q", k, hdr[k], v)
		}
	}
	gi, _ := b.Group("s", "g")
	if gi.Partitions[0].Committed != 2 || gi.DeadLettered != 1 {
		t.Fatalf("group after dead-lettering: committed %d, dead-lettered %d", gi.Partitions[0].Committed, gi.DeadLettered)
	}
}

func TestAckRetentionKeepsWhatGroupsNeed(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s", Retention: Retention{Ack: true}})
	produceN(t, b, "s", 0, 3000)
	b.EnforceRetention()
	if _, stats, _ := b.Station("s"); stats.Partitions[0].StartOffset != 0 {
		t.Fatalf("retention deleted messages with no group: start %d", stats.Partitions[0].StartOffset)
	}
	pullAll(t, b, "s", "fast", 3000)
	wantSequence(t, pullAll(t, b, "s", "slow", 1000), 0, 1000)
	b.EnforceRetention()
	_, stats, _ := b.Station("s")
	start := stats.Partitions[0].StartOffset
	if start == 0 {
		t.Fatalf("ack retention deleted nothing although 1000 messages are acked by every group (segments %d)", stats.Partitions[0].Segments)
	}
	if start > 1000 {
		t.Fatalf("ack retention deleted up to %d, past the slow group's committed offset 1000", start)
	}
	wantSequence(t, pullAll(t, b, "s", "slow", 2000), 1000, 2000)
}

func TestMessagesRetentionDeletesOldSegments(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s", Retention: Retention{MaxMessages: 500}})
	produceN(t, b, "s", 0, 3000)
	b.EnforceRetention()
	_, stats, _ := b.Station("s")
	if stats.Messages > 1500 || stats.Messages < 500 {
		t.Fatalf("after retention of 500 messages the station holds %d", stats.Messages)
	}
	// A new group starting at earliest begins at the retained start.
	got := pullAll(t, b, "s", "g", int(stats.Messages))
	wantSequence(t, got, int(stats.Partitions[0].StartOffset), int(stats.Messages))
}

func TestDedupWithinWindowSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir)
	mustCreate(t, b, StationConfig{Name: "s", DedupWindow: time.Hour})
	ctx := context.Background()
	r1, err := b.Produce(ctx, "s", []Message{{Value: []byte("a"), ID: "id-1"}, {Value: []byte("b"), ID: "id-2"}, {Value: []byte("a again"), ID: "id-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !r1[2].Duplicate || r1[2].Offset != r1[0].Offset || r1[0].Duplicate || r1[1].Duplicate {
		t.Fatalf("results %+v: want only the third a duplicate", r1)
	}
	again, err := b.Produce(ctx, "s", []Message{{Value: []byte("b again"), ID: "id-2"}})
	if err != nil || !again[0].Duplicate || again[0].Offset != r1[1].Offset {
		t.Fatalf("repeated id-2 in the same run: %+v, %v; want a duplicate of offset %d", again, err, r1[1].Offset)
	}
	b.Close()
	b = openTest(t, dir)
	r2, err := b.Produce(ctx, "s", []Message{{Value: []byte("b"), ID: "id-2"}, {Value: []byte("c"), ID: "id-3"}})
	if err != nil {
		t.Fatal(err)
	}
	if !r2[0].Duplicate || r2[0].Offset != r1[1].Offset || r2[1].Duplicate {
		t.Fatalf("after restart: results %+v, want id-2 a duplicate of offset %d", r2, r1[1].Offset)
	}
	got := pullAll(t, b, "s", "g", 3)
	if fmt.Sprint(got) != "[a b c]" {
		t.Fatalf("station holds %v, want [a b c]", got)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir)
	mustCreate(t, b, StationConfig{Name: "s", MaxMessageBytes: 100})
	ctx := context.Background()
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"unknown station", func() error { _, err := b.Produce(ctx, "nope", []Message{{Value: []byte("x")}}); return err }(), ErrStationNotFound},
		{"invalid name", func() error { _, err := b.CreateStation(ctx, StationConfig{Name: "a/b"}); return err }(), ErrInvalidArgument},
		{"dot name", func() error { _, err := b.CreateStation(ctx, StationConfig{Name: ".."}); return err }(), ErrInvalidArgument},
		{"duplicate", func() error { _, err := b.CreateStation(ctx, StationConfig{Name: "s"}); return err }(), ErrStationExists},
		{"too many partitions", func() error { _, err := b.CreateStation(ctx, StationConfig{Name: "p", Partitions: 5000}); return err }(), ErrInvalidArgument},
		{"oversize", func() error {
			_, err := b.Produce(ctx, "s", []Message{{Value: []byte("ok")}, {Value: make([]byte, 101)}})
			return err
		}(), ErrMessageTooLarge},
		{"unknown group", b.Ack(ctx, "s", "nope", nil), ErrGroupNotFound},
		{"bad group name", func() error {
			_, err := b.Pull(ctx, "s", "a b", PullOptions{Max: 1, MaxWait: 0})
			return err
		}(), ErrInvalidArgument},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, c.err, c.want)
		}
	}
	var fe *FieldError
	_, err := b.CreateStation(ctx, StationConfig{Name: "x", Storage: "ssd"})
	if !errors.As(err, &fe) || fe.Field != "storage" {
		t.Errorf("bad storage: err = %v, want a FieldError on storage", err)
	}
	if _, stats, _ := b.Station("s"); stats.Messages != 0 {
		t.Errorf("a rejected batch stored %d messages", stats.Messages)
	}
	if _, err := Open(Options{DataDir: dir}); !errors.Is(err, ErrDataDirLocked) {
		t.Errorf("second broker on the same data dir: err = %v, want ErrDataDirLocked", err)
	}
}

func TestMemoryStation(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir)
	mustCreate(t, b, StationConfig{Name: "m", Storage: StorageMemory})
	produceN(t, b, "m", 0, 1000)
	wantSequence(t, pullAll(t, b, "m", "g", 1000), 0, 1000)
	b.Close()
	b = openTest(t, dir)
	if _, stats, err := b.Station("m"); err != nil || stats.Messages != 0 {
		t.Fatalf("memory station after restart: %d messages, err %v; want it empty but present", stats.Messages, err)
	}
}

func TestMaxAckPendingBoundsDeliveries(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 100)
	cfg := GroupConfig{MaxAckPending: 10}
	ds, err := b.Pull(context.Background(), "s", "g", PullOptions{Max: 100, MaxWait: time.Second, Config: cfg})
	if err != nil || len(ds) != 10 {
		t.Fatalf("pull with max_ack_pending 10: %d messages, err %v", len(ds), err)
	}
	ds2, err := b.Pull(context.Background(), "s", "g", PullOptions{Max: 100, MaxWait: 50 * time.Millisecond, Config: cfg})
	if err != nil || len(ds2) != 0 {
		t.Fatalf("pull at max_ack_pending: %d messages, err %v", len(ds2), err)
	}
	done := make(chan []Delivery)
	go func() {
		ds, _ := b.Pull(context.Background(), "s", "g", PullOptions{Max: 100, MaxWait: 5 * time.Second, Config: cfg})
		done <- ds
	}()
	if err := b.Ack(t.Context(), "s", "g", []MessageRef{{0, 0}, {0, 1}}); err != nil {
		t.Fatal(err)
	}
	if got := <-done; len(got) != 2 || got[0].Record.Offset != 10 {
		t.Fatalf("waiting pull after 2 acks got %d messages", len(got))
	}
}

func TestStartPositions(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 10)
	mid := time.Now()
	produceN(t, b, "s", 10, 10)
	for _, c := range []struct {
		start StartPosition
		first uint64
	}{
		{StartPosition{Kind: StartEarliest}, 0},
		{StartPosition{Kind: StartOffset, Offset: 7}, 7},
		{StartPosition{Kind: StartTime, Time: mid}, 10},
	} {
		name := fmt.Sprintf("g%d", c.start.Kind)
		ds, err := b.Pull(context.Background(), "s", name, PullOptions{Max: 1, MaxWait: time.Second, Start: c.start})
		if err != nil || len(ds) != 1 || ds[0].Record.Offset != c.first {
			t.Errorf("start %+v: got %+v err %v, want offset %d", c.start, ds, err, c.first)
		}
	}
	ds, err := b.Pull(context.Background(), "s", "latest", PullOptions{Max: 1, MaxWait: 20 * time.Millisecond, Start: StartPosition{Kind: StartLatest}})
	if err != nil || len(ds) != 0 {
		t.Fatalf("latest group got %d old messages", len(ds))
	}
	produceN(t, b, "s", 20, 1)
	ds, _ = b.Pull(context.Background(), "s", "latest", PullOptions{Max: 1, MaxWait: time.Second})
	if len(ds) != 1 || ds[0].Record.Offset != 20 {
		t.Fatalf("latest group got %+v, want offset 20", ds)
	}
}

func TestSeekGroup(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s", Partitions: 2})
	for i := range 10 {
		key := []byte{byte(i)}
		if _, err := b.Produce(context.Background(), "s", []Message{{Key: key, Value: []byte(strconv.Itoa(i))}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.CreateGroup(t.Context(), "s", "g", StartPosition{}, GroupConfig{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Pull(context.Background(), "s", "g", PullOptions{Max: 3, MaxWait: time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := b.SeekGroup(t.Context(), "s", "g", map[uint32]uint64{1: 2}); err != nil {
		t.Fatal(err)
	}
	gi, _ := b.Group("s", "g")
	if p := gi.Partitions[1]; p.Committed != 2 || p.Pending != 0 || p.Checkpointed != 2 {
		t.Fatalf("partition 1 after seek: %+v", p)
	}
	if err := b.SeekGroup(t.Context(), "s", "g", map[uint32]uint64{7: 0}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("seek to a missing partition: %v", err)
	}
}

func TestPullMaxBytes(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s"})
	var msgs []Message
	for range 10 {
		msgs = append(msgs, Message{Value: make([]byte, 100)})
	}
	if _, err := b.Produce(context.Background(), "s", msgs); err != nil {
		t.Fatal(err)
	}
	ds, err := b.Pull(context.Background(), "s", "g", PullOptions{Max: 10, MaxBytes: 250, MaxWait: time.Second})
	if err != nil || len(ds) != 3 {
		t.Fatalf("pull with max 250 bytes of 100-byte messages: %d messages, err %v; want 3", len(ds), err)
	}
	ds, _ = b.Pull(context.Background(), "s", "g", PullOptions{Max: 10, MaxBytes: 1, MaxWait: time.Second})
	if len(ds) != 1 {
		t.Fatalf("pull with max 1 byte: %d messages, want 1 (a batch always holds one)", len(ds))
	}
}

func TestKeyHashIsFNV1a(t *testing.T) {
	for _, k := range []string{"", "a", "customer-42", "\xff\x00"} {
		h := fnv.New32a()
		h.Write([]byte(k))
		if got := fnv32a([]byte(k)); got != h.Sum32() {
			t.Errorf("fnv32a(%q) = %d, want %d: keyed messages would move partitions", k, got, h.Sum32())
		}
	}
}
