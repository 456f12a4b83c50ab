package client_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/client"
)

func TestProducerBatchesInOrder(t *testing.T) {
	f := &fakeBroker{}
	c := serveFake(t, f)
	ctx := context.Background()
	p := c.NewProducer("orders", client.ProducerOptions{MaxBatchMessages: 100, MaxInFlight: 3})
	const n = 10000
	pend := make([]client.Pending, n)
	for i := range n {
		pend[i] = p.Send(ctx, client.Message{Value: []byte(strconv.Itoa(i))})
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for i, pd := range pend {
		r, err := pd.Result()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if r.Offset != uint64(i) {
			t.Fatalf("message %d: offset %d, want %d", i, r.Offset, i)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, v := range f.values {
		if v != strconv.Itoa(i) {
			t.Fatalf("stored value %d is %q: order not preserved", i, v)
		}
	}
	for i, s := range f.reqSizes {
		if s > 100 {
			t.Fatalf("request %d carried %d messages, more than MaxBatchMessages", i, s)
		}
	}
	for i := 1; i < len(f.seqs); i++ {
		if f.seqs[i] != f.seqs[i-1]+1 {
			t.Fatalf("sequences not consecutive: %v", f.seqs[:i+1])
		}
	}
	if len(f.reqSizes) >= n/10 {
		t.Errorf("%d requests for %d messages: not batching", len(f.reqSizes), n)
	}
}

func TestProducerBatchBytes(t *testing.T) {
	f := &fakeBroker{}
	c := serveFake(t, f)
	ctx := context.Background()
	p := c.NewProducer("orders", client.ProducerOptions{MaxBatchBytes: 1000, Linger: time.Hour})
	val := make([]byte, 300)
	for range 10 {
		p.Send(ctx, client.Message{Value: val})
	}
	big := p.Send(ctx, client.Message{Value: make([]byte, 5000)})
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := big.Result(); err != nil {
		t.Fatalf("message larger than MaxBatchBytes: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	want := []int{3, 3, 3, 1, 1}
	if fmt.Sprint(f.reqSizes) != fmt.Sprint(want) {
		t.Fatalf("request sizes %v, want %v", f.reqSizes, want)
	}
}

func TestProducerRequestErrorFailsOnlyItsMessages(t *testing.T) {
	f := &fakeBroker{}
	f.onRequest = func(_ int, req *junctionv1.ProduceStreamRequest) (*junctionv1.ProduceStreamResponse, error) {
		for _, m := range req.GetMessages() {
			if string(m.GetValue()) == "bad" {
				return &junctionv1.ProduceStreamResponse{Sequence: req.GetSequence(), Error: `station "orders" not found`, ErrorCode: "not_found", ErrorInfo: &junctionv1.ErrorInfo{Reason: junctionv1.ErrorReason_ERROR_REASON_STATION_NOT_FOUND}}, nil
			}
		}
		return nil, nil
	}
	c := serveFake(t, f)
	ctx := context.Background()
	p := c.NewProducer("orders", client.ProducerOptions{MaxBatchMessages: 10, Linger: time.Hour})
	var pend []client.Pending
	for i := range 30 {
		v := strconv.Itoa(i)
		if i == 15 {
			v = "bad"
		}
		pend = append(pend, p.Send(ctx, client.Message{Value: []byte(v)}))
	}
	// Close reports the failures too: the obvious usage cannot drop them.
	err := p.Close(ctx)
	var se *client.SendError
	if !errors.As(err, &se) || se.Failed != 10 || !errors.Is(err, client.ErrStationNotFound) ||
		!strings.Contains(err.Error(), "10 messages failed") {
		t.Fatalf("Close: %v, want a SendError for 10 messages", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for i, pd := range pend {
		_, err := pd.Wait(ctx)
		if i >= 10 && i < 20 {
			if !errors.Is(err, client.ErrStationNotFound) {
				t.Fatalf("message %d of the failed request: err %v, want ErrStationNotFound", i, err)
			}
			var e *client.Error
			if !errors.As(err, &e) || e.Code != connect.CodeNotFound || e.Station != "orders" {
				t.Fatalf("message %d: error %#v", i, err)
			}
		} else if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
}

func TestProducerSequenceMismatchBreaksStream(t *testing.T) {
	f := &fakeBroker{}
	f.onRequest = func(stream int, req *junctionv1.ProduceStreamRequest) (*junctionv1.ProduceStreamResponse, error) {
		if stream == 1 {
			return &junctionv1.ProduceStreamResponse{Sequence: req.GetSequence() + 7}, nil
		}
		return nil, nil
	}
	c := serveFake(t, f)
	ctx := context.Background()
	p := c.NewProducer("orders", client.ProducerOptions{})
	defer p.Close(ctx)
	_, err := p.Send(ctx, client.Message{Value: []byte("a")}).Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), "sequence") {
		t.Fatalf("err %v, want a sequence protocol error", err)
	}
	// The next message goes on a new stream and succeeds.
	if _, err := p.Send(ctx, client.Message{Value: []byte("b")}).Wait(ctx); err != nil {
		t.Fatalf("after reconnect: %v", err)
	}
}

func TestProducerBrokenStreamFailsInFlightAndReconnects(t *testing.T) {
	f := &fakeBroker{}
	f.onRequest = func(stream int, req *junctionv1.ProduceStreamRequest) (*junctionv1.ProduceStreamResponse, error) {
		if stream == 1 {
			return nil, connect.NewError(connect.CodeUnavailable, errors.New("broker is shutting down"))
		}
		return nil, nil
	}
	c := serveFake(t, f)
	ctx := context.Background()
	p := c.NewProducer("orders", client.ProducerOptions{})
	defer p.Close(ctx)
	_, err := p.Send(ctx, client.Message{Value: []byte("a")}).Wait(ctx)
	if !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "may or may not") {
		t.Fatalf("err %v, want ErrUnavailable saying the outcome is unknown", err)
	}
	r, err := p.Send(ctx, client.Message{Value: []byte("b")}).Wait(ctx)
	if err != nil {
		t.Fatalf("after reconnect: %v", err)
	}
	if r.Offset != 0 {
		t.Fatalf("offset %d, want 0", r.Offset)
	}
}

func TestProducerMaxInFlight(t *testing.T) {
	f := &fakeBroker{gate: make(chan struct{})}
	c := serveFake(t, f)
	ctx := context.Background()
	p := c.NewProducer("orders", client.ProducerOptions{MaxBatchMessages: 1, MaxInFlight: 2})
	// 2 in flight + 1 sealed waiting + 1 current batch fit; the 5th blocks.
	for i := range 4 {
		p.Send(ctx, client.Message{Value: []byte(strconv.Itoa(i))})
	}
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err := p.Send(tctx, client.Message{Value: []byte("x")}).Wait(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send at capacity: err %v, want DeadlineExceeded", err)
	}
	f.mu.Lock()
	got := f.received
	f.mu.Unlock()
	if got > 2 {
		t.Fatalf("broker received %d requests with MaxInFlight 2", got)
	}
	close(f.gate)
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fmt.Sprint(f.values) != "[0 1 2 3]" {
		t.Fatalf("stored %v", f.values)
	}
}

func TestProducerCallbacksAndClosed(t *testing.T) {
	f := &fakeBroker{}
	c := serveFake(t, f)
	ctx := context.Background()
	p := c.NewProducer("orders", client.ProducerOptions{MaxBatchMessages: 7})
	var mu sync.Mutex
	var offsets []uint64
	for i := range 100 {
		p.SendFunc(ctx, client.Message{Value: []byte(strconv.Itoa(i))}, func(r client.Result, err error) {
			if err != nil {
				t.Errorf("callback: %v", err)
			}
			mu.Lock()
			offsets = append(offsets, r.Offset)
			mu.Unlock()
		})
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := append([]uint64(nil), offsets...)
	mu.Unlock()
	if len(got) != 100 {
		t.Fatalf("%d callbacks after Flush, want 100", len(got))
	}
	for i, o := range got {
		if o != uint64(i) {
			t.Fatalf("callback %d got offset %d: callbacks out of order", i, o)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(ctx, client.Message{}).Wait(ctx); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func BenchmarkProducer128B(b *testing.B) {
	f := &fakeBroker{}
	f.onRequest = func(_ int, req *junctionv1.ProduceStreamRequest) (*junctionv1.ProduceStreamResponse, error) {
		rs := make([]*junctionv1.ProduceResult, len(req.GetMessages()))
		for i := range rs {
			rs[i] = &junctionv1.ProduceResult{}
		}
		return &junctionv1.ProduceStreamResponse{Sequence: req.GetSequence(), Results: rs}, nil
	}
	c := serveFake(b, f)
	ctx := context.Background()
	p := c.NewProducer("orders", client.ProducerOptions{})
	val := make([]byte, 128)
	b.SetBytes(128)
	b.ReportAllocs()
	for b.Loop() {
		p.Send(ctx, client.Message{Value: val})
	}
	if err := p.Close(ctx); err != nil {
		b.Fatal(err)
	}
}

func TestProducerCloseGivesUp(t *testing.T) {
	f := &fakeBroker{gate: make(chan struct{})} // never answers
	c := serveFake(t, f)
	ctx := context.Background()
	p := c.NewProducer("orders", client.ProducerOptions{MaxBatchMessages: 1, MaxInFlight: 1})
	a := p.Send(ctx, client.Message{Value: []byte("a")})
	b := p.Send(ctx, client.Message{Value: []byte("b")})
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := p.Close(tctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want DeadlineExceeded", err)
	}
	for _, pd := range []client.Pending{a, b} {
		if _, err := pd.Wait(ctx); !errors.Is(err, client.ErrClosed) {
			t.Fatalf("outstanding message: %v, want ErrClosed", err)
		}
	}
}

func TestProducerFlushReportsFailuresOnce(t *testing.T) {
	f := &fakeBroker{}
	fail := true
	var mu sync.Mutex
	f.onRequest = func(_ int, req *junctionv1.ProduceStreamRequest) (*junctionv1.ProduceStreamResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return &junctionv1.ProduceStreamResponse{Sequence: req.GetSequence(), Error: "disk full", ErrorCode: "internal"}, nil
		}
		return nil, nil
	}
	c := serveFake(t, f)
	ctx := context.Background()
	p := c.NewProducer("orders", client.ProducerOptions{})
	p.Send(ctx, client.Message{Value: []byte("a")})
	err := p.Flush(ctx)
	var se *client.SendError
	if !errors.As(err, &se) || se.Failed != 1 || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Flush after a failed send: %v", err)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	p.Send(ctx, client.Message{Value: []byte("b")})
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("Flush after a good send: %v (a failure is reported once)", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
