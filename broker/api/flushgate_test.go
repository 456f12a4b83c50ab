package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

func TestFlushGateHoldsFlush(t *testing.T) {
	rec := httptest.NewRecorder()
	var g *flushGate
	withFlushGate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g = flushGateFrom(r.Context())
		if g == nil || w != http.ResponseWriter(g) {
			t.Fatal("handler got no flush gate")
		}
		w.Write([]byte("a"))
		g.setHold(true)
		w.(http.Flusher).Flush()
		if rec.Flushed {
			t.Fatal("a held Flush flushed")
		}
		g.setHold(false)
		w.(http.Flusher).Flush()
		if !rec.Flushed {
			t.Fatal("Flush did not flush")
		}
	})).ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	if g.Unwrap() != http.ResponseWriter(rec) {
		t.Fatal("Unwrap does not return the wrapped writer")
	}
	var nilGate *flushGate
	nilGate.setHold(true) // no gate: nothing to hold
}

type noFlushWriter struct{ http.ResponseWriter }

func TestFlushGateNeedsFlusher(t *testing.T) {
	withFlushGate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if flushGateFrom(r.Context()) != nil {
			t.Fatal("a writer that cannot flush got a flush gate")
		}
		if _, ok := w.(http.Flusher); ok {
			t.Fatal("the writer became a Flusher")
		}
	})).ServeHTTP(noFlushWriter{httptest.NewRecorder()}, httptest.NewRequest("POST", "/", nil))
}

// Responses of pipelined requests, failed ones among them, arrive complete
// and in order however many of them are ready at once.
func TestProduceStreamPipelinedResponsesInOrder(t *testing.T) {
	b := openBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := b.CreateStation(ctx, broker.StationConfig{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	mc := serveAPI(t, b)
	const requests = 200
	st := mc.ProduceStream(ctx)
	for r := range requests {
		station := "s"
		if r%7 == 3 {
			station = "missing"
		}
		msgs := []*v1.Message{{Value: fmt.Appendf(nil, "m%d", r)}, {Value: fmt.Appendf(nil, "n%d", r)}}
		if err := st.Send(&v1.ProduceStreamRequest{Sequence: uint64(r), Station: station, Messages: msgs}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CloseRequest(); err != nil {
		t.Fatal(err)
	}
	var next uint64
	for r := range requests {
		resp, err := st.Receive()
		if err != nil {
			t.Fatalf("response %d: %v", r, err)
		}
		if resp.Sequence != uint64(r) {
			t.Fatalf("response %d has sequence %d", r, resp.Sequence)
		}
		if r%7 == 3 {
			if resp.Error == "" {
				t.Fatalf("response %d (unknown station) has no error", r)
			}
			continue
		}
		if resp.Error != "" || len(resp.Results) != 2 {
			t.Fatalf("response %d: error %q, %d results", r, resp.Error, len(resp.Results))
		}
		for i, res := range resp.Results {
			if res.Offset != next {
				t.Fatalf("response %d result %d: offset %d, want %d", r, i, res.Offset, next)
			}
			next++
		}
	}
	if _, err := st.Receive(); err == nil {
		t.Fatal("a response after the last request's")
	}
	if err := st.CloseResponse(); err != nil {
		t.Fatal(err)
	}
}
