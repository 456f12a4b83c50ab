package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker/seglog"
)

// setupSchemaDLQ makes station orders (schema order, on-invalid
// dead-letter to orders-dlq) and produces n messages, every other one
// invalid (qty 0).
func setupSchemaDLQ(t *testing.T, b *Broker, n int) {
	t.Helper()
	ctx := context.Background()
	mustCreate(t, b, StationConfig{Name: "orders-dlq"})
	mustCreate(t, b, StationConfig{Name: "orders", DeadLetterStation: "orders-dlq"})
	if _, _, err := b.CreateSchema(ctx, "order", jsonSource(orderSchemaV1), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AttachSchema(ctx, "orders", StationSchema{Name: "order", OnInvalid: OnInvalidDeadLetter}); err != nil {
		t.Fatal(err)
	}
	var msgs []Message
	for i := range n {
		msgs = append(msgs, Message{Value: fmt.Appendf(nil, `{"id":"%d","qty":%d}`, i, i%2)})
	}
	if _, err := b.Produce(ctx, "orders", msgs); err != nil {
		t.Fatal(err)
	}
}

// relaxSchema makes qty 0 valid, so dead letters replay.
func relaxSchema(t *testing.T, b *Broker) {
	t.Helper()
	if _, _, err := b.UpdateSchema(context.Background(), "order", jsonSource(strings.Replace(orderSchemaV1, `"minimum":1`, `"minimum":0`, 1)), ""); err != nil {
		t.Fatal(err)
	}
}

// countReplays counts the messages of a station per replay-of header.
func countReplays(t *testing.T, b *Broker, station string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for off := uint64(0); ; {
		recs, err := b.Read(station, 0, off, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return out
		}
		for _, r := range recs {
			if h, ok := header(r, HeaderReplayOf); ok {
				out[h]++
			}
		}
		off = recs[len(recs)-1].Offset + 1
	}
}

func TestDeadLettersListAndReplay(t *testing.T) {
	ctx := context.Background()
	b := openTest(t, t.TempDir())
	setupSchemaDLQ(t, b, 6)
	dls, err := b.DeadLetters(ctx, "orders-dlq", 0, 0)
	if err != nil || len(dls) != 3 {
		t.Fatalf("list: %d, %v", len(dls), err)
	}
	d := dls[1]
	if d.Offset != 1 || d.Reason != DLQReasonSchema || d.OriginStation != "orders" || d.HasOriginOffset || d.Schema != "order@1" ||
		!strings.HasPrefix(d.Error, "at /qty: minimum:") || d.Time.IsZero() || string(d.Record.Value) != `{"id":"2","qty":0}` || d.Replayed {
		t.Fatalf("dead letter %+v", d)
	}
	if dls, _ := b.DeadLetters(ctx, "orders-dlq", 2, 0); len(dls) != 1 || dls[0].Offset != 2 {
		t.Fatalf("from 2: %+v", dls)
	}
	if dls, _ := b.DeadLetters(ctx, "orders-dlq", 0, 2); len(dls) != 2 {
		t.Fatalf("limit 2: %d", len(dls))
	}

	// Still invalid: the replay fails each and they stay. The origin
	// dead-letters them again, so detach dead-lettering first.
	if _, err := b.AttachSchema(ctx, "orders", StationSchema{Name: "order"}); err != nil {
		t.Fatal(err)
	}
	res, err := b.ReplayDeadLetters(ctx, "orders-dlq", ReplayOptions{All: true})
	if err != nil || res.Replayed != 0 || len(res.Failed) != 3 || !strings.Contains(res.Failed[0].Err.Error(), "orders rejects it: does not match schema order@1: at /qty: minimum:") {
		t.Fatalf("replay of invalid: %+v %v", res, err)
	}

	relaxSchema(t, b)
	res, err = b.ReplayDeadLetters(ctx, "orders-dlq", ReplayOptions{Offset: 1})
	if err != nil || res.Replayed != 1 {
		t.Fatalf("replay one: %+v %v", res, err)
	}
	res, err = b.ReplayDeadLetters(ctx, "orders-dlq", ReplayOptions{Offset: 1})
	if err != nil || res.Replayed != 0 || res.AlreadyReplayed != 1 {
		t.Fatalf("replay one again: %+v %v", res, err)
	}
	res, err = b.ReplayDeadLetters(ctx, "orders-dlq", ReplayOptions{All: true})
	if err != nil || res.Replayed != 2 || res.AlreadyReplayed != 1 || len(res.Failed) != 0 {
		t.Fatalf("replay all: %+v %v", res, err)
	}
	res, err = b.ReplayDeadLetters(ctx, "orders-dlq", ReplayOptions{All: true})
	if err != nil || res.Replayed != 0 || res.AlreadyReplayed != 3 {
		t.Fatalf("replay all again: %+v %v", res, err)
	}
	got := countReplays(t, b, "orders")
	for off := range 3 {
		if n := got[fmt.Sprintf("orders-dlq/0/%d", off)]; n != 1 {
			t.Errorf("dead letter %d replayed %d times", off, n)
		}
	}
	recs := readAll(t, b, "orders")
	last := recs[len(recs)-1]
	if h, _ := header(last, HeaderSchema); h != "order@2" {
		t.Errorf("replayed message validated as %q", h)
	}
	for _, h := range last.Headers {
		if strings.HasPrefix(h.Key, "junction-dlq-") {
			t.Errorf("replayed message keeps %s", h.Key)
		}
	}
	if dls, _ := b.DeadLetters(ctx, "orders-dlq", 0, 0); !dls[0].Replayed || !dls[2].Replayed {
		t.Fatalf("replayed flags: %+v", dls)
	}
	if _, err := b.ReplayDeadLetters(ctx, "orders-dlq", ReplayOptions{Offset: 9}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("missing offset: %v", err)
	}
	if _, err := b.ReplayDeadLetters(ctx, "orders-dlq", ReplayOptions{All: true, To: "nope"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("missing target: %v", err)
	}
}

func TestDeadLetterReplayInterruptedReplaysNothingTwice(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := openTest(t, dir)
	// 3 * replayBatch + 10 dead letters: four batches.
	setupSchemaDLQ(t, b, 2*(3*replayBatch+10))
	relaxSchema(t, b)
	if _, err := b.AttachSchema(ctx, "orders", StationSchema{Name: "order"}); err != nil {
		t.Fatal(err)
	}
	errCrash := errors.New("crash")
	calls := 0
	b.dlq.afterProduce = func() error {
		if calls++; calls == 2 {
			return errCrash // the second batch is stored but not recorded
		}
		return nil
	}
	res, err := b.ReplayDeadLetters(ctx, "orders-dlq", ReplayOptions{All: true})
	if !errors.Is(err, errCrash) || res.Replayed != 2*replayBatch {
		t.Fatalf("interrupted replay: %+v %v", res, err)
	}
	// A restart in between: the progress is in the metadata store.
	b.Close()
	b = openTest(t, dir)
	res, err = b.ReplayDeadLetters(ctx, "orders-dlq", ReplayOptions{All: true})
	if err != nil || res.Replayed != replayBatch+10 || res.AlreadyReplayed != 2*replayBatch {
		t.Fatalf("replay run again: %+v %v", res, err)
	}

	// Interrupted by cancellation before the produce of a batch.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.ReplayDeadLetters(cctx, "orders-dlq", ReplayOptions{All: true}); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	got := countReplays(t, b, "orders")
	if len(got) != 3*replayBatch+10 {
		t.Fatalf("%d distinct dead letters replayed, want %d", len(got), 3*replayBatch+10)
	}
	for k, n := range got {
		if n != 1 {
			t.Errorf("%s replayed %d times", k, n)
		}
	}
}

func TestDeadLettersFromMaxDeliveriesAndPurge(t *testing.T) {
	ctx := context.Background()
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "dlq"})
	mustCreate(t, b, StationConfig{Name: "s", DeadLetterStation: "dlq", MaxDeliveries: 1})
	produceN(t, b, "s", 0, 1)
	ds, err := b.Pull(ctx, "s", "g", PullOptions{Max: 1, MaxWait: 5 * time.Second})
	if err != nil || len(ds) != 1 {
		t.Fatal(err)
	}
	if err := b.Nack(ctx, "s", "g", []MessageRef{{0, 0}}, 0); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.Pull(ctx, "s", "g", PullOptions{Max: 1, MaxWait: 50 * time.Millisecond})
		if _, st, _ := b.Station("dlq"); st.Messages == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("message not dead-lettered")
		}
	}
	dls, err := b.DeadLetters(ctx, "dlq", 0, 0)
	if err != nil || len(dls) != 1 {
		t.Fatalf("list: %+v %v", dls, err)
	}
	if d := dls[0]; d.Reason != DLQReasonMaxDeliveries || d.OriginStation != "s" || !d.HasOriginOffset || d.OriginOffset != 0 || d.Deliveries != 1 || d.Group != "g" {
		t.Fatalf("dead letter %+v", d)
	}
	// A message produced to the dead-letter station by hand names no
	// origin: it replays only with To.
	if _, err := b.Produce(ctx, "dlq", []Message{{Value: []byte("x"), Headers: []seglog.Header{{Key: "a", Value: []byte("b")}}}}); err != nil {
		t.Fatal(err)
	}
	res, err := b.ReplayDeadLetters(ctx, "dlq", ReplayOptions{Offset: 1})
	if err != nil || len(res.Failed) != 1 || !strings.Contains(res.Failed[0].Err.Error(), "--to") {
		t.Fatalf("replay without origin: %+v %v", res, err)
	}
	if res, err = b.ReplayDeadLetters(ctx, "dlq", ReplayOptions{Offset: 1, To: "s"}); err != nil || res.Replayed != 1 {
		t.Fatalf("replay with to: %+v %v", res, err)
	}

	n, err := b.PurgeDeadLetters(ctx, "dlq")
	if err != nil || n != 2 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if dls, _ := b.DeadLetters(ctx, "dlq", 0, 0); len(dls) != 0 {
		t.Fatalf("%d dead letters after purge", len(dls))
	}
	if res, err := b.ReplayDeadLetters(ctx, "dlq", ReplayOptions{All: true}); err != nil || res.Replayed != 0 {
		t.Fatalf("replay after purge: %+v %v", res, err)
	}
	if _, err := b.ReplayDeadLetters(ctx, "dlq", ReplayOptions{Offset: 0}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("replay a purged offset: %v", err)
	}
	// What arrives after a purge lists and replays.
	if _, err := b.Produce(ctx, "dlq", []Message{{Value: []byte("y"), Headers: []seglog.Header{{Key: HeaderDLQStation, Value: []byte("s")}}}}); err != nil {
		t.Fatal(err)
	}
	if dls, _ := b.DeadLetters(ctx, "dlq", 0, 0); len(dls) != 1 || dls[0].Offset != 2 {
		t.Fatalf("after purge: %+v", dls)
	}
	if n, _ := b.PurgeDeadLetters(ctx, "dlq"); n != 1 {
		t.Fatalf("second purge dropped %d", n)
	}
	// A re-created station does not inherit the purge.
	if err := b.DeleteStation(ctx, "dlq", true); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, b, StationConfig{Name: "dlq"})
	if _, err := b.Produce(ctx, "dlq", []Message{{Value: []byte("z")}}); err != nil {
		t.Fatal(err)
	}
	if dls, _ := b.DeadLetters(ctx, "dlq", 0, 0); len(dls) != 1 {
		t.Fatalf("re-created station lists %d", len(dls))
	}
}
