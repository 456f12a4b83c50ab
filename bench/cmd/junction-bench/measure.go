package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
	"text/tabwriter"
	"time"
)

// target is a broker under test. Each method creates a fresh station (or
// stream) named by its spec, runs the workload and returns what it measured.
type target interface {
	Name() string
	Produce(ctx context.Context, s produceSpec) (measurement, error)
	ConsumeAck(ctx context.Context, station string, size, n int) (measurement, error)
	Latency(ctx context.Context, s latencySpec) (measurement, error)
	Close()
}

// produceSpec describes a produce workload.
type produceSpec struct {
	station   string
	size      int
	producers int
	duration  time.Duration // used when messages is 0
	messages  int           // total over all producers
}

// perProducer returns how many messages each producer sends (0: until the
// deadline).
func (s produceSpec) perProducer() int {
	if s.messages == 0 {
		return 0
	}
	return max(1, s.messages/s.producers)
}

// more reports whether a producer that sent i messages sends another.
func (s produceSpec) more(i int, deadline time.Time) bool {
	if n := s.perProducer(); n > 0 {
		return i < n
	}
	return i%64 != 0 || time.Now().Before(deadline)
}

// latencySpec describes a latency workload.
type latencySpec struct {
	station  string
	size     int
	rate     int
	duration time.Duration
}

// measurement is the outcome of one workload run.
type measurement struct {
	msgs    int64         // messages acknowledged (produce) or received and acked (consume)
	size    int           // value bytes per message
	elapsed time.Duration // of the timed phase
	mallocs uint64        // heap allocations in this process during the timed phase
	e2e     []time.Duration
	ack     []time.Duration
}

// meter records the start of a timed phase.
type meter struct {
	start   time.Time
	mallocs uint64
}

func startMeter() meter {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return meter{start: time.Now(), mallocs: ms.Mallocs}
}

// stop ends the timed phase of a workload that handled msgs messages.
func (m meter) stop(msgs int64, size int) measurement {
	elapsed := time.Since(m.start)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return measurement{msgs: msgs, size: size, elapsed: elapsed, mallocs: ms.Mallocs - m.mallocs}
}

// row is one line of the report.
type row struct {
	system, workload string
	size             int
	msgsPerSec       float64
	mbPerSec         float64         // 10^6 bytes of values per second
	allocsPerMsg     float64         // client-side heap allocations per message
	lat              []time.Duration // sorted latency samples, nil for throughput rows
}

func (m measurement) row(system, workload string, size int) row {
	secs := m.elapsed.Seconds()
	r := row{system: system, workload: workload, size: size}
	if m.msgs > 0 && secs > 0 {
		r.msgsPerSec = float64(m.msgs) / secs
		r.mbPerSec = float64(m.msgs) * float64(m.size) / secs / 1e6
		r.allocsPerMsg = float64(m.mallocs) / float64(m.msgs)
	}
	return r
}

// name is the workload name used in RESULT lines, e.g. produce-1p-128B.
func (r row) name() string { return r.workload + "-" + sizeName(r.size) }

// percentile returns the q-quantile (0 < q <= 1) of sorted samples.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// printTable writes the rows as an aligned table. Latency columns are filled
// only for the latency rows.
func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tworkload\tsize\tmsgs/s\tMB/s\tp50\tp99\tp999\tallocs/msg\t")
	for _, r := range rows {
		p50, p99, p999 := "-", "-", "-"
		if r.lat != nil {
			p50, p99, p999 = fmtDur(percentile(r.lat, 0.50)), fmtDur(percentile(r.lat, 0.99)), fmtDur(percentile(r.lat, 0.999))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%.1f\t%s\t%s\t%s\t%.1f\t\n",
			r.system, r.workload, sizeName(r.size), r.msgsPerSec, r.mbPerSec, p50, p99, p999, r.allocsPerMsg)
	}
	tw.Flush()
}

// printResults writes one RESULT line per workload run on both systems:
// msgs/s for throughput workloads, p50 and p99 in microseconds for latency
// ones (where a ratio below 1 favours Junction).
func printResults(w io.Writer, rows []row) {
	for _, j := range rows {
		if j.system != "junction" {
			continue
		}
		i := slices.IndexFunc(rows, func(n row) bool { return n.system == "nats" && n.name() == j.name() })
		if i < 0 {
			continue
		}
		n := rows[i]
		if j.lat == nil {
			printResult(w, j.name(), j.msgsPerSec, n.msgsPerSec, "msgs/s")
			continue
		}
		for _, q := range []struct {
			name string
			q    float64
		}{{"p50", 0.50}, {"p99", 0.99}} {
			jv := float64(percentile(j.lat, q.q).Microseconds())
			nv := float64(percentile(n.lat, q.q).Microseconds())
			printResult(w, j.workload+"-"+q.name+"-"+sizeName(j.size), jv, nv, "us")
		}
	}
}

func printResult(w io.Writer, name string, junction, nats float64, unit string) {
	ratio := "inf"
	if nats > 0 {
		ratio = fmt.Sprintf("%.2f", junction/nats)
	}
	fmt.Fprintf(w, "RESULT workload=%s junction=%.0f nats=%.0f unit=%s ratio=%s\n", name, junction, nats, unit, ratio)
}

// workloadRSS is the broker's peak RSS during one workload.
type workloadRSS struct {
	name  string // workload and size, e.g. produce-1p-128B
	bytes int64
}

// printRSS writes the broker's peak RSS over all workloads and one RESULT
// line per workload (Junction only: NATS runs inside this process).
func printRSS(w io.Writer, rss []workloadRSS) {
	if len(rss) == 0 {
		fmt.Fprintln(w, "\njunction peak RSS: unknown")
		return
	}
	var peak int64
	for _, r := range rss {
		peak = max(peak, r.bytes)
	}
	fmt.Fprintf(w, "\njunction peak RSS (VmHWM): %.1f MiB\n\n", mib(peak))
	for _, r := range rss {
		fmt.Fprintf(w, "RESULT workload=rss-%s junction=%.1f unit=MiB\n", r.name, mib(r.bytes))
	}
	fmt.Fprintf(w, "RESULT workload=rss-peak junction=%.1f unit=MiB\n", mib(peak))
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// fmtDur formats a latency with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.3gs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.3gms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.3gµs", float64(d)/1e3)
	}
}

// latencyRecorder paces a latency workload and collects its samples. Its
// methods are safe for concurrent use.
type latencyRecorder struct {
	mu    sync.Mutex
	e2e   []time.Duration // publish→receive
	ack   []time.Duration // publish→acknowledged by the broker
	total int             // messages sent, once sending is done; -1 before
	allIn chan struct{}   // closed once every sent message was received
	isIn  bool            // allIn is closed
}

func newLatencyRecorder(s latencySpec) *latencyRecorder {
	n := int(int64(s.rate) * int64(s.duration) / int64(time.Second))
	return &latencyRecorder{e2e: make([]time.Duration, 0, n), ack: make([]time.Duration, 0, n), total: -1, allIn: make(chan struct{})}
}

// pace calls send s.rate times a second for s.duration, catching up after
// a late wake-up rather than skipping, then marks sending done.
func (r *latencyRecorder) pace(ctx context.Context, s latencySpec, send func()) {
	interval := time.Second / time.Duration(s.rate)
	start := time.Now()
	n := 0
	for due := time.Duration(0); due < s.duration && ctx.Err() == nil; due += interval {
		if wait := due - time.Since(start); wait > 0 {
			sleepPrecise(wait)
		}
		send()
		n++
	}
	r.mu.Lock()
	r.total = n
	r.checkAllIn()
	r.mu.Unlock()
}

// receive records a message's publish→receive latency.
func (r *latencyRecorder) receive(d time.Duration) {
	r.mu.Lock()
	r.e2e = append(r.e2e, d)
	r.checkAllIn()
	r.mu.Unlock()
}

// acked records a message's publish→ack latency.
func (r *latencyRecorder) acked(d time.Duration) {
	r.mu.Lock()
	r.ack = append(r.ack, d)
	r.mu.Unlock()
}

// checkAllIn closes allIn when every sent message was received. r.mu is held.
func (r *latencyRecorder) checkAllIn() {
	if !r.isIn && r.total >= 0 && len(r.e2e) >= r.total {
		r.isIn = true
		close(r.allIn)
	}
}

// wait waits up to 10 s for the consumer to receive every sent message.
func (r *latencyRecorder) wait(ctx context.Context) error {
	select {
	case <-r.allIn:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
		r.mu.Lock()
		defer r.mu.Unlock()
		return fmt.Errorf("received %d of %d messages 10s after the last send", len(r.e2e), r.total)
	}
}

// measurement ends the workload's timed phase and returns the sorted samples.
func (r *latencyRecorder) measurement(m meter, size int) measurement {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := m.stop(int64(len(r.e2e)), size)
	slices.Sort(r.e2e)
	slices.Sort(r.ack)
	res.e2e, res.ack = r.e2e, r.ack
	return res
}

// payload returns size random bytes: message values are incompressible, so
// transport compression cannot flatter a broker.
func payload(size int) []byte {
	b := make([]byte, size)
	rand.Read(b)
	return b
}

// stamped returns a fresh random payload starting with sent, the send time
// as an offset from the workload's epoch.
func stamped(size int, sent time.Duration) []byte {
	b := payload(size)
	binary.LittleEndian.PutUint64(b, uint64(sent))
	return b
}

// sentAt reads the send time written by stamped.
func sentAt(b []byte) time.Duration { return time.Duration(binary.LittleEndian.Uint64(b)) }

// firstError keeps the first non-nil error set. It is safe for concurrent use.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
