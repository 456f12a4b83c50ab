package api

import (
	"context"
	"net/http"
	"sync/atomic"
)

// A streaming Connect handler flushes after every message it sends, and
// Go's HTTP/2 server turns each flush into a hand-off to its connection
// goroutine and a frame write, which the handler waits for. When one group
// commit completes several produce requests of a stream at once, their
// responses are ready together; flushing each alone makes the last one wait
// for all the others' round trips. A flushGate lets ProduceStream hold the
// flush of a response whose successor is already ready, so those responses
// leave in one write.

// flushGate wraps a flushable http.ResponseWriter whose Flush can be held.
type flushGate struct {
	http.ResponseWriter
	f    http.Flusher
	hold atomic.Bool // skip Flush: another response follows at once
}

// Flush flushes the response unless the flush is held.
func (g *flushGate) Flush() {
	if g.hold.Load() {
		return
	}
	g.f.Flush()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (g *flushGate) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// setHold makes the next Flush of g a no-op (hold) or a flush. A nil g
// does nothing.
func (g *flushGate) setHold(hold bool) {
	if g != nil {
		g.hold.Store(hold)
	}
}

type flushGateKey struct{}

// withFlushGate wraps h so that its handlers find a flushGate of their
// response in their context (see flushGateFrom).
func withFlushGate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			h.ServeHTTP(w, r)
			return
		}
		g := &flushGate{ResponseWriter: w, f: f}
		h.ServeHTTP(g, r.WithContext(context.WithValue(r.Context(), flushGateKey{}, g)))
	})
}

// flushGateFrom returns the flushGate of the response being served with
// ctx, or nil.
func flushGateFrom(ctx context.Context) *flushGate {
	g, _ := ctx.Value(flushGateKey{}).(*flushGate)
	return g
}
