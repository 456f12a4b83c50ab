package broker

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

func openClocked(t *testing.T) (*Broker, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	return openTest(t, t.TempDir(), func(o *Options) { o.Clock = clock.Now }), clock
}

func offsetsOf(ds []Delivery) []uint64 {
	var out []uint64
	for _, d := range ds {
		out = append(out, d.Record.Offset)
	}
	slices.Sort(out)
	return out
}

func offsetRange(from, to uint64, except ...uint64) []uint64 {
	var out []uint64
	for o := from; o < to; o++ {
		if !slices.Contains(except, o) {
			out = append(out, o)
		}
	}
	return out
}

// A batch handed out at once shares one deadline, yet acks, nacks and the
// deadline act on single messages: what comes back is exactly what was
// neither acked nor nacked, and a nacked message keeps its own delay.
func TestFirstDeliveriesRedeliverExactlyTheUnacked(t *testing.T) {
	b, clock := openClocked(t)
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 100)
	ctx := context.Background()
	opts := PullOptions{Max: 100, MaxWait: 20 * time.Millisecond, Config: GroupConfig{AckDeadline: time.Minute}}
	var ds []Delivery
	for len(ds) < 100 {
		more, err := b.Pull(ctx, "s", "g", opts)
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, more...)
	}
	if err := b.AckRanges(ctx, "s", "g", []OffsetRange{{From: 0, To: 10}, {From: 50, To: 77}, {From: 78, To: 100}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ack(ctx, "s", "g", []MessageRef{{0, 20}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Nack(ctx, "s", "g", []MessageRef{{0, 30}}, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := b.Ack(ctx, "s", "g", []MessageRef{{0, 20}}); !errors.Is(err, ErrNotPending) {
		t.Fatalf("second ack of offset 20: %v; want ErrNotPending", err)
	}
	gi, _ := b.Group("s", "g")
	if gi.Pending != 39 || gi.Partitions[0].Pending != 40 || gi.Partitions[0].Committed != 10 {
		t.Fatalf("pending %d (partition %d), committed %d; want 39 (40 with the nacked one), 10", gi.Pending, gi.Partitions[0].Pending, gi.Partitions[0].Committed)
	}
	if got, _ := b.Pull(ctx, "s", "g", opts); len(got) != 0 {
		t.Fatalf("%d deliveries before the deadline", len(got))
	}

	clock.advance(time.Minute + time.Second)
	var again []Delivery
	for {
		more, err := b.Pull(ctx, "s", "g", opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(more) == 0 {
			break
		}
		again = append(again, more...)
	}
	want := append(offsetRange(10, 50, 20, 30), 77)
	if got := offsetsOf(again); !slices.Equal(got, want) {
		t.Fatalf("redelivered %v; want %v", got, want)
	}
	for _, d := range again {
		if d.DeliveryCount != 2 {
			t.Fatalf("offset %d redelivered with count %d; want 2", d.Record.Offset, d.DeliveryCount)
		}
	}

	// Past the nack's delay, short of the redeliveries' deadline.
	clock.advance(59*time.Second + 500*time.Millisecond)
	nacked, err := b.Pull(ctx, "s", "g", opts)
	if err != nil || len(nacked) != 1 || nacked[0].Record.Offset != 30 || nacked[0].DeliveryCount != 2 {
		t.Fatalf("after the nack delay: %+v, %v; want offset 30 once more", nacked, err)
	}
	if err := b.Ack(ctx, "s", "g", refsOf(append(again, nacked...))); err != nil {
		t.Fatal(err)
	}
	gi, _ = b.Group("s", "g")
	if gi.Pending != 0 || gi.Partitions[0].Committed != 100 {
		t.Fatalf("pending %d, committed %d after acking everything; want 0, 100", gi.Pending, gi.Partitions[0].Committed)
	}
	if n := b.pendingEntries.Load(); n != 0 {
		t.Fatalf("%d pending entries charged after everything was acked", n)
	}
}

// max_ack_pending counts messages, wherever in a batch they were acked.
func TestMaxAckPendingCountsMessagesOfBatches(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 30)
	ctx := context.Background()
	opts := PullOptions{Max: 100, MaxWait: 20 * time.Millisecond, Config: GroupConfig{MaxAckPending: 10}}
	ds, err := b.Pull(ctx, "s", "g", opts)
	if err != nil || len(ds) != 10 {
		t.Fatalf("first pull: %d, %v; want 10", len(ds), err)
	}
	if err := b.Ack(ctx, "s", "g", []MessageRef{{0, 2}, {0, 5}, {0, 7}}); err != nil {
		t.Fatal(err)
	}
	ds, err = b.Pull(ctx, "s", "g", opts)
	if got := offsetsOf(ds); err != nil || !slices.Equal(got, []uint64{10, 11, 12}) {
		t.Fatalf("after three acks: %v, %v; want offsets 10-12", got, err)
	}
	if gi, _ := b.Group("s", "g"); gi.Pending != 10 || gi.Partitions[0].Committed != 0 {
		t.Fatalf("pending %d, committed %d; want 10, 0", gi.Pending, gi.Partitions[0].Committed)
	}
}

// Messages whose deadline passed with no member pulling are dead-lettered
// when they have no deliveries left, a batch message by message.
func TestExpiredBatchDeadLettersWithoutPulls(t *testing.T) {
	b, clock := openClocked(t)
	mustCreate(t, b, StationConfig{Name: "dlq"})
	mustCreate(t, b, StationConfig{Name: "s", DeadLetterStation: "dlq", MaxDeliveries: 1})
	produceN(t, b, "s", 0, 5)
	ctx := context.Background()
	ds, err := b.Pull(ctx, "s", "g", PullOptions{Max: 5, MaxWait: time.Second, Config: GroupConfig{AckDeadline: time.Minute}})
	if err != nil || len(ds) != 5 {
		t.Fatalf("pull: %d, %v", len(ds), err)
	}
	if err := b.Ack(ctx, "s", "g", []MessageRef{{0, 1}, {0, 3}}); err != nil {
		t.Fatal(err)
	}
	clock.advance(2 * time.Minute)
	b.EnforceRetention()
	if _, st, _ := b.Station("dlq"); st.Messages != 3 {
		t.Fatalf("%d messages dead-lettered; want 3", st.Messages)
	}
	if gi, _ := b.Group("s", "g"); gi.Pending != 0 || gi.DeadLettered != 3 || gi.Partitions[0].Committed != 5 {
		t.Fatalf("pending %d, dead-lettered %d, committed %d; want 0, 3, 5", gi.Pending, gi.DeadLettered, gi.Partitions[0].Committed)
	}
}

// A seek forgets the batches a partition had out: their offsets are
// delivered afresh, and acks of the old ones are refused.
func TestSeekForgetsBatchesOut(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 50)
	ctx := context.Background()
	opts := PullOptions{Max: 50, MaxWait: 20 * time.Millisecond}
	ds, err := b.Pull(ctx, "s", "g", opts)
	if err != nil || len(ds) != 50 {
		t.Fatalf("pull: %d, %v", len(ds), err)
	}
	if err := b.AckRanges(ctx, "s", "g", []OffsetRange{{From: 0, To: 5}, {From: 20, To: 30}}); err != nil {
		t.Fatal(err)
	}
	if err := b.SeekGroup(ctx, "s", "g", map[uint32]uint64{0: 40}); err != nil {
		t.Fatal(err)
	}
	if gi, _ := b.Group("s", "g"); gi.Pending != 0 || gi.Partitions[0].Pending != 0 || b.pendingEntries.Load() != 0 {
		t.Fatalf("after the seek: pending %d, %d entries charged; want none", gi.Pending, b.pendingEntries.Load())
	}
	if err := b.AckRanges(ctx, "s", "g", []OffsetRange{{From: 40, To: 50}}); !errors.Is(err, ErrNotPending) {
		t.Fatalf("ack of offsets delivered before the seek: %v; want ErrNotPending", err)
	}
	ds, err = b.Pull(ctx, "s", "g", opts)
	if got := offsetsOf(ds); err != nil || !slices.Equal(got, offsetRange(40, 50)) {
		t.Fatalf("after the seek: %v, %v; want 40-49", got, err)
	}
	for _, d := range ds {
		if d.DeliveryCount != 1 {
			t.Fatalf("offset %d delivered after the seek with count %d; want 1", d.Record.Offset, d.DeliveryCount)
		}
	}
	if err := b.AckRanges(ctx, "s", "g", []OffsetRange{{From: 0, To: 1 << 40}}); !errors.Is(err, ErrNotPending) {
		t.Fatalf("wide ack: %v; want ErrNotPending for what was not out", err)
	}
	if gi, _ := b.Group("s", "g"); gi.Pending != 0 || gi.Partitions[0].Committed != 50 {
		t.Fatalf("pending %d, committed %d; want 0, 50", gi.Pending, gi.Partitions[0].Committed)
	}
}

// The runs and their deadlines follow what is pending, not the number of
// pulls times the deadline.
func TestBatchDeadlinesFollowPending(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s", Partitions: 2})
	produceN(t, b, "s", 0, 4000)
	ctx := context.Background()
	opts := PullOptions{Max: 1, MaxWait: time.Second, Config: GroupConfig{AckDeadline: time.Hour}}
	var held []Delivery
	for got := 0; got < 4000; {
		ds, err := b.Pull(ctx, "s", "g", opts)
		if err != nil {
			t.Fatal(err)
		}
		got += len(ds)
		if got%1000 == 1 {
			held = append(held, ds...) // stays pending throughout
			continue
		}
		if err := b.Ack(ctx, "s", "g", refsOf(ds)); err != nil {
			t.Fatal(err)
		}
	}
	g, _ := b.existingGroup("s", "g")
	g.mu.Lock()
	n, live, runs := g.runExp.len(), g.liveRuns, len(g.parts[0].runs)+len(g.parts[1].runs)
	g.mu.Unlock()
	if live != len(held) || n > 2*live+1024 || runs > 2*live+1024 {
		t.Fatalf("%d deadlines and %d runs kept for %d live runs (%d messages held)", n, runs, live, len(held))
	}
	if err := b.Ack(ctx, "s", "g", refsOf(held)); err != nil {
		t.Fatal(err)
	}
	if b.pendingEntries.Load() != 0 {
		t.Fatalf("%d pending entries charged after everything was acked", b.pendingEntries.Load())
	}
}

// A batch pull hands stored batches out as stored, in offset order after
// a partly delivered one, and counts their messages and bytes.
func TestPullBatchesHandsOutStoredBatchesInOrder(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s"})
	ctx := context.Background()
	for i := range 4 {
		var msgs []Message
		for j := range 10 {
			msgs = append(msgs, Message{Value: []byte{byte(i), byte(j)}})
		}
		if _, err := b.Produce(ctx, "s", msgs); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := b.station("s")
	stored, _, err := st.logs[0].(BatchReader).ReadBatches(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	// Part of the first batch goes out alone, then the rest of it and
	// the next two whole.
	ds, err := b.Pull(ctx, "s", "g", PullOptions{Max: 4, MaxWait: time.Second})
	if err != nil || len(ds) != 4 {
		t.Fatalf("pull: %d, %v", len(ds), err)
	}
	rest, bs, err := b.PullBatches(ctx, "s", "g", PullOptions{Max: 29, MaxWait: time.Second})
	if err != nil || len(rest) != 0 {
		t.Fatalf("batch pull: %d per-message deliveries, %v", len(rest), err)
	}
	var got []uint64
	for _, d := range decodeBatches(t, bs) {
		got = append(got, d.Record.Offset)
	}
	if !slices.Equal(got, offsetRange(4, 30)) {
		t.Fatalf("batch pull delivered %v; want 4-29 in order", got)
	}
	var whole int
	for _, pb := range bs {
		if pb.Ranges[0].From%10 == 0 {
			whole++
			if !bytes.Contains(stored, pb.Data) || pb.Count != 10 {
				t.Fatalf("stored batch from %d went out re-encoded or cut (%d messages)", pb.Ranges[0].From, pb.Count)
			}
		}
	}
	if whole != 2 {
		t.Fatalf("%d stored batches went out whole; want 2", whole)
	}
	if n := counterValue(st.m.messagesOut); n != 30 {
		t.Fatalf("messages out %v; want 30", n)
	}
	if n := counterValue(st.m.bytesOut); n != 60 {
		t.Fatalf("bytes out %v; want 60", n)
	}
	if err := b.AckRanges(ctx, "s", "g", []OffsetRange{{From: 0, To: 30}}); err != nil {
		t.Fatal(err)
	}
	if gi, _ := b.Group("s", "g"); gi.Pending != 0 || gi.Partitions[0].Committed != 30 {
		t.Fatalf("pending %d, committed %d; want 0, 30", gi.Pending, gi.Partitions[0].Committed)
	}
}

// The group engine against a model of what is pending: random pulls (per
// message and in batches) over two partitions, acks (single and ranges,
// some of offsets not pending), nacks with and without delay, and time
// passing deadlines. Every delivery must be of a message that was due,
// with the right count, and no pull may exceed its max; the pending
// counts and the committed offsets must match the model after each step.
func TestGroupEngineMatchesModel(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) { groupEngineModel(t, seed) })
	}
}

func groupEngineModel(t *testing.T, seed uint64) {
	const parts, total, deadline = 2, 300, 10 * time.Second
	rng := rand.New(rand.NewPCG(seed, 7))
	b, clock := openClocked(t)
	mustCreate(t, b, StationConfig{Name: "s", Partitions: parts, MaxDeliveries: 1000})
	ctx := context.Background()
	type state struct {
		value string
		count uint32
		out   bool // delivered, awaiting ack
		acked bool
		due   time.Time
	}
	var model [parts][]state
	for i := 0; i < total; {
		n := min(1+rng.IntN(12), total-i)
		msgs := make([]Message, n)
		for j := range msgs {
			msgs[j] = Message{Key: []byte{byte(rng.IntN(4))}, Value: []byte(strconv.Itoa(i + j))}
		}
		res, err := b.Produce(ctx, "s", msgs)
		if err != nil {
			t.Fatal(err)
		}
		for j, r := range res {
			if r.Offset != uint64(len(model[r.Partition])) {
				t.Fatalf("produced at partition %d offset %d, expected %d", r.Partition, r.Offset, len(model[r.Partition]))
			}
			model[r.Partition] = append(model[r.Partition], state{value: string(msgs[j].Value)})
		}
		i += n
	}
	cfg := GroupConfig{AckDeadline: deadline, MaxAckPending: 100000}
	if _, err := b.CreateGroup(ctx, "s", "g", StartPosition{Kind: StartEarliest}, cfg); err != nil {
		t.Fatal(err)
	}
	opts := PullOptions{MaxWait: 5 * time.Millisecond}
	outstanding := func() (out []MessageRef) {
		for p := range model {
			for off, s := range model[p] {
				if s.out {
					out = append(out, MessageRef{uint32(p), uint64(off)})
				}
			}
		}
		return out
	}
	check := func(step int) {
		t.Helper()
		gi, err := b.Group("s", "g")
		if err != nil {
			t.Fatal(err)
		}
		for p := range model {
			commit, pending := uint64(0), 0
			for commit < uint64(len(model[p])) && model[p][commit].acked {
				commit++
			}
			for _, s := range model[p] {
				if s.out {
					pending++
				}
			}
			if gp := gi.Partitions[p]; gp.Pending != pending || gp.Committed != commit {
				t.Fatalf("step %d partition %d: pending %d, committed %d; the model has %d, %d", step, p, gp.Pending, gp.Committed, pending, commit)
			}
		}
	}
	for step := range 400 {
		now := clock.Now()
		switch op := rng.IntN(10); {
		case op < 4:
			o := opts
			o.Max = 1 + rng.IntN(60)
			var ds []Delivery
			if op < 2 {
				rest, bs, err := b.PullBatches(ctx, "s", "g", o)
				if err != nil {
					t.Fatal(err)
				}
				ds = append(rest, decodeBatches(t, bs)...)
			} else {
				var err error
				if ds, err = b.Pull(ctx, "s", "g", o); err != nil {
					t.Fatal(err)
				}
			}
			if len(ds) > o.Max {
				t.Fatalf("step %d: %d deliveries for a pull of %d", step, len(ds), o.Max)
			}
			for _, d := range ds {
				s := &model[d.Partition][d.Record.Offset]
				if s.acked || (s.out && s.due.After(now)) {
					t.Fatalf("step %d: partition %d offset %d delivered while not due (%+v)", step, d.Partition, d.Record.Offset, *s)
				}
				if d.DeliveryCount != s.count+1 || string(d.Record.Value) != s.value {
					t.Fatalf("step %d: partition %d offset %d delivered as %q with count %d; want %q, count %d",
						step, d.Partition, d.Record.Offset, d.Record.Value, d.DeliveryCount, s.value, s.count+1)
				}
				s.count++
				s.out, s.due = true, now.Add(deadline)
			}
		case op < 7:
			var refs []MessageRef
			var ranges []OffsetRange
			wantMissing := false
			for range 1 + rng.IntN(3) {
				p := uint32(rng.IntN(parts))
				n := uint64(len(model[p]))
				from := rng.Uint64N(n + 5)
				to := from + rng.Uint64N(40)
				if op == 4 {
					to = from + 1
				}
				ranges = append(ranges, OffsetRange{Partition: p, From: from, To: to})
				for off := from; off < to; off++ {
					refs = append(refs, MessageRef{p, off})
					if off >= n || !model[p][off].out {
						wantMissing = true
						continue
					}
					model[p][off].out, model[p][off].acked = false, true
				}
			}
			var err error
			if op == 4 {
				err = b.Ack(ctx, "s", "g", refs)
			} else {
				err = b.AckRanges(ctx, "s", "g", ranges)
			}
			if (err != nil) != wantMissing || (err != nil && !errors.Is(err, ErrNotPending)) {
				t.Fatalf("step %d: ack %v: %v; want an error: %v", step, ranges, err, wantMissing)
			}
		case op < 8:
			out := outstanding()
			if len(out) == 0 {
				continue
			}
			ref := out[rng.IntN(len(out))]
			delay := time.Duration(rng.IntN(2)) * 5 * time.Second
			if err := b.Nack(ctx, "s", "g", []MessageRef{ref}, delay); err != nil {
				t.Fatalf("step %d: nack %+v: %v", step, ref, err)
			}
			model[ref.Partition][ref.Offset].due = now.Add(delay)
		default:
			clock.advance(time.Duration(rng.IntN(6000)) * time.Millisecond)
		}
		check(step)
	}
	// Whatever is left comes back once due, and acking it commits all.
	clock.advance(time.Minute)
	for range total {
		ds, bs, err := b.PullBatches(ctx, "s", "g", PullOptions{Max: 1000, MaxWait: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, decodeBatches(t, bs)...)
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			s := &model[d.Partition][d.Record.Offset]
			s.out, s.acked = false, true
		}
		if err := b.Ack(ctx, "s", "g", refsOf(ds)); err != nil {
			t.Fatal(err)
		}
	}
	check(-1)
	if gi, _ := b.Group("s", "g"); gi.Pending != 0 || b.pendingEntries.Load() != 0 || gi.Lag != 0 {
		t.Fatalf("at the end: pending %d, lag %d, %d entries charged; want none", gi.Pending, gi.Lag, b.pendingEntries.Load())
	}
}

// A batch pull over several partitions never hands out more messages than
// asked for, however many stored batches go out whole.
func TestPullBatchesKeepsToMaxOverPartitions(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s", Partitions: 3})
	ctx := context.Background()
	for i := range 12 {
		msgs := make([]Message, 10)
		for j := range msgs {
			msgs[j] = Message{Key: []byte{byte(i)}, Value: []byte{byte(j)}}
		}
		if _, err := b.Produce(ctx, "s", msgs); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[MessageRef]bool{}
	for len(seen) < 120 {
		rest, bs, err := b.PullBatches(ctx, "s", "g", PullOptions{Max: 25, MaxWait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		ds := append(rest, decodeBatches(t, bs)...)
		if len(ds) == 0 || len(ds) > 25 {
			t.Fatalf("%d messages for a pull of at most 25", len(ds))
		}
		for _, d := range ds {
			ref := MessageRef{d.Partition, d.Record.Offset}
			if seen[ref] {
				t.Fatalf("partition %d offset %d delivered twice", ref.Partition, ref.Offset)
			}
			seen[ref] = true
		}
		if gi, _ := b.Group("s", "g"); gi.Pending != len(seen) {
			t.Fatalf("%d pending after %d deliveries", gi.Pending, len(seen))
		}
	}
}

// A group that fell behind retention forgets the batches it had out below
// the log's new start, and their charge against the budgets.
func TestFallingBehindRetentionDropsBatchesOut(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s", Retention: Retention{MaxMessages: 500}})
	produceN(t, b, "s", 0, 100)
	ctx := context.Background()
	opts := PullOptions{Max: 100, MaxWait: time.Second}
	if ds, err := b.Pull(ctx, "s", "g", opts); err != nil || len(ds) != 100 {
		t.Fatalf("pull: %d, %v", len(ds), err)
	}
	produceN(t, b, "s", 100, 2000)
	b.EnforceRetention()
	_, st, _ := b.Station("s")
	start := st.Partitions[0].StartOffset
	if start <= 100 {
		t.Fatalf("retention kept the log from %d; the test needs it past 100", start)
	}
	ds, err := b.Pull(ctx, "s", "g", opts)
	if err != nil || len(ds) == 0 || ds[0].Record.Offset != start {
		t.Fatalf("pull after retention: %d, %v; want deliveries from %d", len(ds), err, start)
	}
	gi, _ := b.Group("s", "g")
	if gi.Pending != len(ds) || gi.Partitions[0].Committed != start || b.pendingEntries.Load() != int64(len(ds)) {
		t.Fatalf("pending %d, committed %d, %d entries charged; want %d, %d, %d", gi.Pending, gi.Partitions[0].Committed, b.pendingEntries.Load(), len(ds), start, len(ds))
	}
	if err := b.AckRanges(ctx, "s", "g", []OffsetRange{{From: 0, To: 100}}); !errors.Is(err, ErrNotPending) {
		t.Fatalf("ack of messages retention deleted: %v; want ErrNotPending", err)
	}
}
