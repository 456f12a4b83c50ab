package server

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// Request limits. Whatever a client sends, the request bodies the server
// holds in memory stay bounded: each request body at most maxRequest bytes
// (after decompression, which connect-go's read limit enforces), and all
// bodies being read or handled together at most the in-flight budget. A
// request that would overrun the budget is refused with 429 at once rather
// than queued, so slow senders cannot wedge the server; clients retry.
// ProduceStream and Consume are long-lived streams: their messages are
// bounded one by one by the read limit, and ProduceStream charges the same
// budget for each request it has queued but not yet answered.

var errBusy = errors.New("server busy: too many request bytes in flight; retry")

// gzipWithin is connect-go's gzip with an inflate bound: connect stops
// reading a message at its read limit, but then inflates the rest only to
// report its size, so a small bomb would cost seconds of CPU. This reader
// fails past limit instead.
func gzipWithin(limit int64) connect.HandlerOption {
	return connect.WithCompression("gzip",
		func() connect.Decompressor { return &boundedGzip{limit: limit} },
		func() connect.Compressor { return gzip.NewWriter(io.Discard) },
	)
}

type boundedGzip struct {
	gz       gzip.Reader
	limit, n int64
}

func (d *boundedGzip) Read(p []byte) (int, error) {
	if d.n > d.limit {
		return 0, fmt.Errorf("inflated past %d bytes", d.limit)
	}
	n, err := d.gz.Read(p)
	d.n += int64(n)
	return n, err
}

func (d *boundedGzip) Close() error { return d.gz.Close() }

func (d *boundedGzip) Reset(r io.Reader) error {
	d.n = 0
	return d.gz.Reset(r)
}

// budget is the server-wide allowance of request bytes in memory.
type budget struct {
	sem   *semaphore.Weighted
	gauge prometheus.Gauge
}

func newBudget(bytes int64) *budget {
	return &budget{
		sem: semaphore.NewWeighted(bytes),
		gauge: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "junction", Name: "request_bytes_in_flight",
			Help: "Request body bytes read and held by requests not yet answered."}),
	}
}

// Acquire waits for n bytes of room, for a stream's queued request.
func (b *budget) Acquire(ctx context.Context, n int64) error {
	if err := b.sem.Acquire(ctx, n); err != nil {
		return err
	}
	b.gauge.Add(float64(n))
	return nil
}

// Release gives back n bytes.
func (b *budget) Release(n int64) { b.release(n) }

func (b *budget) tryAcquire(n int64) bool {
	if !b.sem.TryAcquire(n) {
		return false
	}
	b.gauge.Add(float64(n))
	return true
}

func (b *budget) release(n int64) {
	if n > 0 {
		b.sem.Release(n)
		b.gauge.Sub(float64(n))
	}
}

// streaming reports whether path is a long-lived stream, which the body
// budget does not hold for its whole life.
func streaming(path string) bool {
	return strings.HasSuffix(path, "/ProduceStream") && strings.HasPrefix(path, "/"+junctionv1connect.MessageServiceName+"/") ||
		strings.HasSuffix(path, "/Consume") && strings.HasPrefix(path, "/"+junctionv1connect.MessageServiceName+"/")
}

// limitBodies wraps next so that request bodies are charged to b as they
// are read and released when the request is answered.
func limitBodies(next http.Handler, b *budget, maxRequest int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || streaming(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > maxRequest {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		body := &chargedBody{ReadCloser: r.Body, b: b, limit: maxRequest}
		if r.ContentLength > 0 {
			if !b.tryAcquire(r.ContentLength) {
				w.Header().Set("Retry-After", "1")
				http.Error(w, errBusy.Error(), http.StatusTooManyRequests)
				return
			}
			body.held = r.ContentLength
		}
		r.Body = body
		defer body.releaseAll()
		next.ServeHTTP(w, r)
	})
}

// chargedBody charges every byte read beyond what was charged up front
// (the Content-Length) to the budget, failing the read when it is exhausted or
// the request grows past its limit.
type chargedBody struct {
	io.ReadCloser
	b     *budget
	limit int64
	mu    sync.Mutex
	read  int64 // bytes read so far
	held  int64 // bytes charged to the budget, at least read
}

func (c *chargedBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.read += int64(n)
	if c.read > c.limit {
		return n, errors.New("request body too large")
	}
	if extra := c.read - c.held; extra > 0 {
		if !c.b.tryAcquire(extra) {
			return n, errBusy
		}
		c.held += extra
	}
	return n, err
}

func (c *chargedBody) releaseAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.b.release(c.held)
	c.held = 0
}
