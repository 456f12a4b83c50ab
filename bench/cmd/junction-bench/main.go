// Command junction-bench measures a Junction broker end to end, from a
// separate load-generating process, and optionally compares it with an
// embedded NATS JetStream server running the same workloads.
//
// Junction runs as a child process (built from ../cmd/junction into a
// temporary directory, or the binary named by -junction) so that its peak
// RSS can be read from /proc and its heap is not shared with the load
// generator. Every workload runs on a fresh station (1 partition, fsync
// always) for each message size:
//
//	produce-1p   one pipelined Producer for -duration (or -messages)
//	produce-4p   four Producers, each with its own connection, on one station
//	consume-ack  one consumer pulls a pre-filled backlog in batches of 1000
//	             and acks every message
//	latency      one producer paced at -rate msgs/s and one consumer:
//	             publish→receive and publish→durable-ack latency
//	scale        on brokers of its own, cost as stations and retained data
//	             grow (see scale.go)
//	connect      only when -workloads names it: the connector path in
//	             this process, against Benthos (see connect.go)
//	r3-produce-1p, r3-latency
//	             the same on a 3-node Junction cluster (and, with -compare,
//	             a 3-node NATS JetStream cluster, streams with 3 replicas)
//
// It prints a table to stdout, then the peak RSS of the Junction process.
// With -compare it runs the same workloads against NATS JetStream right
// after each Junction one and prints one RESULT line per workload:
//
//	RESULT workload=produce-1p-128B junction=X nats=Y unit=msgs/s ratio=X/Y
//
// Usage:
//
//	cd bench && go run ./cmd/junction-bench [-compare] [-duration 5s] [-junction ../bin/junction]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config holds the command-line settings shared by every workload.
type config struct {
	duration  time.Duration // how long a produce or latency workload sends
	messages  int           // if > 0, total messages per produce workload instead of duration
	prefill   int           // consume-ack backlog, before the maxPrefillBytes cap
	rate      int           // msgs/s of the latency workload
	sizes     []int         // message (value) sizes in bytes
	workloads []string      // workload kinds to run, in order
	compare   bool          // also run NATS JetStream
	natsSync  bool          // NATS fsyncs every write (SyncAlways)
	junction  string        // path of a prebuilt junction binary, or "" to build one
	cpuprof   string        // file for a CPU profile of this process, or ""
	settle    bool          // sync(2) the disks before every workload
	out       string        // file that also receives the report, or ""
	report    io.Writer     // stdout, and out when set: where every workload prints its results
}

// workloadKinds are the workloads in the order they run.
var workloadKinds = []string{"produce-1p", "produce-4p", "consume-ack", "latency", "r3-produce-1p", "r3-latency", "scale"}

// standalone are the workloads that run on their own, before the others
// and without their broker process, when -workloads names them.
var standalone = map[string]func(context.Context, config) error{
	"connect": runConnect, // connect.go
}

// maxPrefillBytes caps the consume-ack backlog for large messages.
const maxPrefillBytes = 512 << 20

func main() {
	var cfg config
	var sizes, workloads string
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "how long each produce and latency workload runs")
	flag.IntVar(&cfg.messages, "messages", 0, "if > 0, messages per produce workload (split over its producers) instead of -duration")
	flag.IntVar(&cfg.prefill, "prefill", 1_000_000, "messages pre-filled for consume-ack (capped at 512 MiB of values per size)")
	flag.IntVar(&cfg.rate, "rate", 10_000, "messages per second sent by the latency workload")
	flag.StringVar(&sizes, "sizes", "128,1024", "comma-separated message sizes in bytes")
	flag.StringVar(&workloads, "workloads", strings.Join(workloadKinds, ","), "comma-separated workloads to run")
	flag.BoolVar(&cfg.compare, "compare", false, "also run the workloads against an embedded NATS JetStream server")
	flag.BoolVar(&cfg.natsSync, "nats-sync-always", false, "make NATS fsync every write, like Junction's fsync-always stations (default: NATS's default sync)")
	flag.StringVar(&cfg.junction, "junction", "", "junction binary to run (default: build ../cmd/junction into a temp dir)")
	flag.StringVar(&cfg.cpuprof, "cpuprofile", "", "write a CPU profile of the load generator (and embedded NATS) to `file`")
	flag.BoolVar(&cfg.settle, "settle", true, "flush the disks (sync) before every workload, so none pays for the write-back of the one before")
	flag.StringVar(&cfg.out, "out", "", "also write the report (the table and RESULT lines) to `file`, for cmd/perfreport")
	flag.Parse()

	var err error
	if cfg.sizes, err = parseSizes(sizes); err != nil {
		fatalf("-sizes: %v", err)
	}
	var alone []string
	for w := range strings.SplitSeq(workloads, ",") {
		if standalone[w] != nil {
			alone = append(alone, w)
			continue
		}
		if !slices.Contains(workloadKinds, w) {
			fatalf("-workloads: unknown workload %q (want some of %s, or %s)", w, strings.Join(workloadKinds, ","), strings.Join(slices.Sorted(maps.Keys(standalone)), ","))
		}
		cfg.workloads = append(cfg.workloads, w)
	}
	if cfg.duration <= 0 || cfg.rate <= 0 || cfg.prefill <= 0 || cfg.messages < 0 {
		fatalf("-duration, -rate and -prefill must be positive, -messages not negative")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.cpuprof != "" {
		f, err := os.Create(cfg.cpuprof)
		if err != nil {
			fatalf("-cpuprofile: %v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatalf("-cpuprofile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	cfg.report = os.Stdout
	if cfg.out != "" {
		f, err := os.Create(cfg.out)
		if err != nil {
			fatalf("-out: %v", err)
		}
		defer f.Close()
		cfg.report = io.MultiWriter(os.Stdout, f)
	}
	for _, w := range alone {
		if err := standalone[w](ctx, cfg); err != nil {
			pprof.StopCPUProfile()
			fatalf("%s: %v", w, err)
		}
	}
	if len(cfg.workloads) == 0 {
		return
	}
	if err := run(ctx, cfg); err != nil {
		pprof.StopCPUProfile()
		fatalf("%v", err)
	}
}

// run starts the servers, runs every workload and prints the report.
func run(ctx context.Context, cfg config) error {
	out := cfg.report
	j, err := startJunction(ctx, cfg.junction)
	if err != nil {
		return err
	}
	defer j.Close()
	targets := []target{j}
	if cfg.compare {
		n, err := startNATS(cfg.natsSync)
		if err != nil {
			return err
		}
		defer n.Close()
		targets = append(targets, n)
	}

	var cl clusters
	defer cl.Close()
	var rows []row
	var rss []workloadRSS
	for i, kind := range cfg.workloads {
		if kind == "scale" {
			continue // last, on brokers of its own
		}
		ts, base := targets, kind
		single, onCluster := clusterKind(kind)
		if onCluster {
			if !singleNodeAfter(cfg.workloads[i:]) {
				// The single servers hold what the workloads before wrote
				// (and Junction's scrub verifies it in the background):
				// stopped, they take no CPU or disk from the clusters.
				for _, t := range targets {
					t.Close()
				}
				targets = nil
			}
			if ts, err = cl.start(ctx, cfg); err != nil {
				return err
			}
			base = single
		}
		for _, size := range cfg.sizes {
			for _, t := range ts {
				fmt.Fprintf(os.Stderr, "running %s %s on %s\n", kind, sizeName(size), t.Name())
				if cfg.settle {
					settle()
				}
				if t == target(j) {
					if err := resetPeakRSS(j.cmd.Process.Pid); err != nil {
						fmt.Fprintf(os.Stderr, "  cannot reset the broker's peak RSS, so it covers the workloads before too: %v\n", err)
					}
				}
				var before *serverSample
				if t == target(j) {
					if s, err := j.sample(ctx); err == nil {
						before = &s
					} else {
						fmt.Fprintf(os.Stderr, "  broker CPU and fsyncs unknown: %v\n", err)
					}
				}
				rs, err := runWorkload(ctx, t, cfg, base, size)
				if err != nil {
					return fmt.Errorf("%s %s on %s: %w", kind, sizeName(size), t.Name(), err)
				}
				if before != nil {
					if after, err := j.sample(ctx); err == nil {
						fmt.Fprintf(os.Stderr, "  %s\n", after.since(*before))
					}
				}
				if onCluster {
					relabel(rs)
				}
				rows = append(rows, rs...)
				if t == target(j) {
					if n, err := j.PeakRSS(); err == nil {
						rss = append(rss, workloadRSS{name: kind + "-" + sizeName(size), bytes: n})
					} else {
						fmt.Fprintf(os.Stderr, "  peak RSS unknown: %v\n", err)
					}
				}
			}
		}
	}

	fmt.Fprintf(out, "machine: %s\n\n", machine())
	printTable(out, rows)
	printRSS(out, rss)
	if cfg.compare {
		fmt.Fprintln(out)
		printResults(out, rows)
	}
	if slices.Contains(cfg.workloads, "scale") {
		fmt.Fprintln(out)
		return runScale(ctx, out, cfg.junction)
	}
	return nil
}

// singleNodeAfter reports whether a workload of workloads runs on the
// single servers.
func singleNodeAfter(workloads []string) bool {
	for _, w := range workloads {
		if _, onCluster := clusterKind(w); !onCluster && w != "scale" {
			return true
		}
	}
	return false
}

// runWorkload runs one workload kind with one message size on t and returns
// its table rows (two for latency: end to end and durable ack).
func runWorkload(ctx context.Context, t target, cfg config, kind string, size int) ([]row, error) {
	name := kind + "-" + sizeName(size)
	switch kind {
	case "produce-1p", "produce-4p":
		producers := 1
		if kind == "produce-4p" {
			producers = 4
		}
		m, err := t.Produce(ctx, produceSpec{station: name, size: size, producers: producers, duration: cfg.duration, messages: cfg.messages})
		if err != nil {
			return nil, err
		}
		return []row{m.row(t.Name(), kind, size)}, nil
	case "consume-ack":
		n := min(cfg.prefill, maxPrefillBytes/size)
		m, err := t.ConsumeAck(ctx, name, size, n)
		if err != nil {
			return nil, err
		}
		return []row{m.row(t.Name(), kind, size)}, nil
	case "latency":
		m, err := t.Latency(ctx, latencySpec{station: name, size: size, rate: cfg.rate, duration: cfg.duration})
		if err != nil {
			return nil, err
		}
		e2e := m.row(t.Name(), "latency-e2e", size)
		e2e.lat = m.e2e
		ack := m.row(t.Name(), "latency-ack", size)
		ack.lat = m.ack
		return []row{e2e, ack}, nil
	}
	return nil, fmt.Errorf("unknown workload %q", kind)
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 8 {
			return nil, fmt.Errorf("size %q: want an integer of at least 8 (the latency timestamp)", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// sizeName formats a message size as in workload names: 128B, 1KiB.
func sizeName(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return strconv.Itoa(n/1024) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "junction-bench: "+format+"\n", args...)
	os.Exit(1)
}
