package main

// The scale workload: what a broker costs as the number of stations and
// the data it retains grow. Each figure is measured at 1x, 10x and 100x of
// the work, on a fresh broker process per step, so growth is visible.
//
//	stations  N stations x 4 partitions, one consumer group each: start
//	          produce throughput spread over every station vs one station,
//	          the time a SIGTERM takes to stop the broker, and the start
//	          time, RSS and open files of the restarted broker
//	retained  S bytes in one station: start time, and a catch-up consume
//	          from the first offset with the segment files dropped from the
//	          page cache, next to the disk's sequential read speed

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/junctionhq/junction/sdk/client"
)

var (
	scaleStations = flag.String("scale-stations", "10,100,1000", "station counts of the scale workload (4 partitions and one consumer group each)")
	scaleRetained = flag.String("scale-retained", "2GB", "largest data size of the scale workload; it also runs 1/10 and 1/100 of it (e.g. 20GB)")
	scaleDuration = flag.Duration("scale-duration", 2*time.Second, "how long each produce of the scale workload runs")
	scaleServer   = flag.String("scale-server-flags", "", "extra `flags` for the brokers of the scale workload, e.g. \"--max-open-segments 8\"")
)

const (
	scalePartitions = 4
	scaleValue      = 128     // bytes per message of the station produce runs
	retainedValue   = 4 << 10 // bytes per message of the retained data
)

// scaleResult is one figure of the scale workload.
type scaleResult struct {
	name  string // e.g. stations-start
	step  string // e.g. 1000 or 2GB
	value float64
	unit  string
}

// runScale runs the scale workload against bin (building one when empty)
// and prints its table and RESULT lines to w.
func runScale(ctx context.Context, w io.Writer, bin string) error {
	stations, err := parseCounts(*scaleStations)
	if err != nil {
		return fmt.Errorf("-scale-stations: %w", err)
	}
	maxBytes, err := parseBytes(*scaleRetained)
	if err != nil {
		return fmt.Errorf("-scale-retained: %w", err)
	}
	dir, err := os.MkdirTemp("", "junction-bench-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		if bin, err = buildJunction(ctx, dir); err != nil {
			return err
		}
	}
	var res []scaleResult
	for _, n := range stations {
		fmt.Fprintf(os.Stderr, "running scale: %d stations x %d partitions\n", n, scalePartitions)
		rs, err := scaleStationsStep(ctx, bin, filepath.Join(dir, fmt.Sprintf("stations-%d", n)), n)
		if err != nil {
			return fmt.Errorf("scale %d stations: %w", n, err)
		}
		res = append(res, rs...)
	}
	for _, size := range []int64{maxBytes / 100, maxBytes / 10, maxBytes} {
		fmt.Fprintf(os.Stderr, "running scale: %s retained\n", fmtBytes(size))
		rs, err := scaleRetainedStep(ctx, bin, filepath.Join(dir, "retained-"+fmtBytes(size)), size)
		if err != nil {
			return fmt.Errorf("scale %s retained: %w", fmtBytes(size), err)
		}
		res = append(res, rs...)
	}
	printScale(w, res)
	return nil
}

// scaleStationsStep creates n stations with a group each, produces across
// all of them and to one, and restarts the broker.
func scaleStationsStep(ctx context.Context, bin, dir string, n int) (_ []scaleResult, err error) {
	defer os.RemoveAll(dir)
	b, _, err := startBroker(ctx, bin, dir)
	if err != nil {
		return nil, err
	}
	defer func() { b.kill() }()
	step := strconv.Itoa(n)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("scale-%05d", i)
	}
	created := time.Now()
	if err := parallel(ctx, 8, names, func(ctx context.Context, name string) error {
		if _, err := b.c.CreateStation(ctx, client.StationConfig{Name: name, Partitions: scalePartitions, Fsync: client.FsyncAlways}); err != nil {
			return err
		}
		_, err := b.c.CreateGroup(ctx, name, "scale", client.Earliest, client.GroupConfig{})
		return err
	}); err != nil {
		return nil, fmt.Errorf("create stations: %w", err)
	}
	res := []scaleResult{{"stations-create", step, float64(time.Since(created).Milliseconds()), "ms"}}

	spread, err := produceAcross(ctx, b.c, names, *scaleDuration)
	if err != nil {
		return nil, fmt.Errorf("produce across stations: %w", err)
	}
	one, err := produceAcross(ctx, b.c, names[:1], *scaleDuration)
	if err != nil {
		return nil, fmt.Errorf("produce to one station: %w", err)
	}
	res = append(res,
		scaleResult{"stations-produce-spread", step, spread, "msgs/s"},
		scaleResult{"stations-produce-one", step, one, "msgs/s"})

	stopping := time.Now()
	if err := b.stop(); err != nil {
		return nil, err
	}
	res = append(res, scaleResult{"stations-stop", step, float64(time.Since(stopping).Milliseconds()), "ms"})
	b, start, err := startBroker(ctx, bin, dir)
	if err != nil {
		return nil, fmt.Errorf("restart: %w", err)
	}
	st, err := b.stats()
	if err != nil {
		return nil, err
	}
	res = append(res,
		scaleResult{"stations-start", step, float64(start.Milliseconds()), "ms"},
		scaleResult{"stations-rss", step, mib(st.rss), "MiB"},
		scaleResult{"stations-peak-rss", step, mib(st.hwm), "MiB"},
		scaleResult{"stations-open-files", step, float64(st.fds), "files"})
	return res, nil
}

// produceAcross sends 128 B messages from four goroutines, each with a
// Producer per station it serves, round-robin over stations for d, and
// returns the acknowledged messages per second.
func produceAcross(ctx context.Context, c *client.Client, stations []string, d time.Duration) (float64, error) {
	const senders = 4
	value := payload(scaleValue)
	var acked atomic.Int64
	var failed firstError
	done := func(_ client.Result, err error) {
		if err != nil {
			failed.set(err)
			return
		}
		acked.Add(1)
	}
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range senders {
		wg.Go(func() {
			var ps []*client.Producer
			for i, s := range stations {
				if i%senders == w || len(stations) < senders {
					ps = append(ps, c.NewProducer(s, client.ProducerOptions{}))
				}
			}
			for i := 0; (i%64 != 0 || time.Now().Before(deadline)) && ctx.Err() == nil; i++ {
				ps[i%len(ps)].SendFunc(ctx, client.Message{Value: value}, done)
			}
			for _, p := range ps {
				if err := p.Close(ctx); err != nil {
					failed.set(err)
				}
			}
		})
	}
	wg.Wait()
	if err := failed.get(); err != nil {
		return 0, err
	}
	return float64(acked.Load()) / time.Since(start).Seconds(), ctx.Err()
}

// scaleRetainedStep fills one station with size bytes, restarts the broker,
// drops the segments from the page cache, reads them to measure the disk,
// drops them again and consumes everything from the start.
func scaleRetainedStep(ctx context.Context, bin, dir string, size int64) (_ []scaleResult, err error) {
	defer os.RemoveAll(dir)
	b, _, err := startBroker(ctx, bin, dir)
	if err != nil {
		return nil, err
	}
	defer func() { b.kill() }()
	step := fmtBytes(size)
	const station = "retained"
	if _, err := b.c.CreateStation(ctx, client.StationConfig{Name: station, Partitions: 1, Fsync: client.FsyncAlways}); err != nil {
		return nil, err
	}
	n := int(max(size/retainedValue, 1))
	if err := fill(ctx, b.c, station, n); err != nil {
		return nil, fmt.Errorf("fill: %w", err)
	}
	if err := b.stop(); err != nil {
		return nil, err
	}
	segs, err := filepath.Glob(filepath.Join(dir, "stations", station, "*", "*.log"))
	if err != nil || len(segs) == 0 {
		return nil, fmt.Errorf("no segment files of %s under %s (%v)", station, dir, err)
	}
	if err := dropCache(segs); err != nil {
		return nil, err
	}
	b, start, err := startBroker(ctx, bin, dir)
	if err != nil {
		return nil, fmt.Errorf("restart: %w", err)
	}
	st, err := b.stats()
	if err != nil {
		return nil, err
	}
	disk, err := readSpeed(segs)
	if err != nil {
		return nil, err
	}
	if err := dropCache(segs); err != nil {
		return nil, err
	}
	cached, err := cachedFraction(segs)
	if err != nil {
		return nil, err
	}
	consumed, err := catchUp(ctx, b.c, station, n)
	if err != nil {
		return nil, fmt.Errorf("catch-up consume: %w", err)
	}
	return []scaleResult{
		{"retained-start", step, float64(start.Milliseconds()), "ms"},
		{"retained-rss", step, mib(st.rss), "MiB"},
		{"retained-open-files", step, float64(st.fds), "files"},
		{"retained-consume-cold", step, consumed, "MB/s"},
		{"retained-disk-read", step, disk, "MB/s"},
		{"retained-cached-before-consume", step, 100 * cached, "%"},
	}, nil
}

// fill stores n messages of retainedValue bytes in station.
func fill(ctx context.Context, c *client.Client, station string, n int) error {
	p := c.NewProducer(station, client.ProducerOptions{})
	value := payload(retainedValue)
	var failed firstError
	for i := 0; i < n && ctx.Err() == nil; i++ {
		p.SendFunc(ctx, client.Message{Value: value}, func(_ client.Result, err error) { failed.set(err) })
	}
	if err := p.Close(ctx); err != nil {
		return err
	}
	if err := failed.get(); err != nil {
		return err
	}
	return ctx.Err()
}

// catchUp consumes n messages from the start of station in batches of 1000,
// acking each batch, and returns the value bytes per second in MB/s.
func catchUp(ctx context.Context, c *client.Client, station string, n int) (float64, error) {
	cons := c.NewConsumer(station, "catch-up", client.ConsumerOptions{Start: client.Earliest, BatchSize: consumeBatch, MaxWait: time.Second})
	start := time.Now()
	got := 0
	for got < n {
		ds, err := cons.Pull(ctx, min(consumeBatch, n-got))
		if err != nil {
			return 0, fmt.Errorf("pull: %w", err)
		}
		if len(ds) == 0 {
			return 0, fmt.Errorf("pull: no message within 1s after %d of %d", got, n)
		}
		for _, d := range ds {
			d.Ack()
		}
		got += len(ds)
	}
	if err := cons.Close(ctx); err != nil {
		return 0, fmt.Errorf("ack: %w", err)
	}
	return float64(got) * retainedValue / time.Since(start).Seconds() / 1e6, nil
}

// dropCache asks the kernel to drop the files' pages from the page cache
// (posix_fadvise DONTNEED, no root needed; pages must be clean, which the
// broker's fsync made them).
func dropCache(paths []string) error {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
		if err != nil {
			return fmt.Errorf("drop %s from the page cache: %w", p, err)
		}
	}
	return nil
}

// cachedFraction returns the share of the files' pages that are in the
// page cache (mincore), to show whether dropping them worked.
func cachedFraction(paths []string) (float64, error) {
	var resident, total int
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return 0, err
		}
		st, err := f.Stat()
		if err != nil || st.Size() == 0 {
			f.Close()
			continue
		}
		m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("mmap %s: %w", p, err)
		}
		vec := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
		_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0])))
		_ = unix.Munmap(m)
		if errno != 0 {
			err = errno
			return 0, fmt.Errorf("mincore %s: %w", p, err)
		}
		for _, v := range vec {
			resident += int(v & 1)
		}
		total += len(vec)
	}
	if total == 0 {
		return 0, nil
	}
	return float64(resident) / float64(total), nil
}

// readSpeed reads the files sequentially in 1 MiB chunks, up to 1 GiB, and
// returns MB/s: the disk's sequential read speed when they are not cached.
func readSpeed(paths []string) (float64, error) {
	buf := make([]byte, 1<<20)
	var total int64
	start := time.Now()
	for _, p := range paths {
		if total >= 1<<30 {
			break
		}
		f, err := os.Open(p)
		if err != nil {
			return 0, err
		}
		for total < 1<<30 {
			n, err := f.Read(buf)
			total += int64(n)
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return 0, err
			}
		}
		f.Close()
	}
	return float64(total) / time.Since(start).Seconds() / 1e6, nil
}

// brokerProc is a junction server child process on a given data directory.
type brokerProc struct {
	cmd *exec.Cmd
	c   *client.Client
}

// startBroker starts `junction server` on dir and returns once /healthz
// answers, with the time that took.
func startBroker(ctx context.Context, bin, dir string) (*brokerProc, time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := append([]string{"server", "--data", dir, "--listen", addr, "--log-level", "warn"}, strings.Fields(*scaleServer)...)
	b := &brokerProc{cmd: exec.Command(bin, args...)}
	b.cmd.Stdout, b.cmd.Stderr = os.Stderr, os.Stderr
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := b.cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("start junction: %w", err)
	}
	if err := waitHealthy(ctx, "http://"+addr+"/healthz"); err != nil {
		b.kill()
		return nil, 0, err
	}
	took := time.Since(start)
	if b.c, err = client.Connect(ctx, addr); err != nil {
		b.kill()
		return nil, 0, err
	}
	return b, took, nil
}

// stop shuts the broker down with SIGTERM and waits up to two minutes.
func (b *brokerProc) stop() error {
	b.c.Close()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- b.cmd.Wait() }()
	select {
	case err := <-exited:
		b.cmd = nil
		if err != nil {
			return fmt.Errorf("junction exited: %w", err)
		}
		return nil
	case <-time.After(2 * time.Minute):
		_ = b.cmd.Process.Kill()
		<-exited
		b.cmd = nil
		return errors.New("junction did not stop within 2 minutes of SIGTERM")
	}
}

// kill stops the broker if it still runs.
func (b *brokerProc) kill() {
	if b.cmd == nil {
		return
	}
	if b.c != nil {
		b.c.Close()
	}
	_ = b.cmd.Process.Kill()
	_ = b.cmd.Wait()
	b.cmd = nil
}

// procStats is what /proc says about a process.
type procStats struct {
	rss, hwm int64 // VmRSS and VmHWM in bytes
	fds      int   // open file descriptors
}

func (b *brokerProc) stats() (procStats, error) {
	pid := b.cmd.Process.Pid
	var st procStats
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		for _, field := range []struct {
			prefix string
			dst    *int64
		}{{"VmRSS:", &st.rss}, {"VmHWM:", &st.hwm}} {
			if v, ok := strings.CutPrefix(sc.Text(), field.prefix); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				if err != nil {
					return st, fmt.Errorf("/proc/%d/status: %s: %w", pid, field.prefix, err)
				}
				*field.dst = kb << 10
			}
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return st, err
	}
	st.fds = len(fds)
	return st, sc.Err()
}

// parallel calls fn for every item from workers goroutines and returns the
// first error.
func parallel(ctx context.Context, workers int, items []string, fn func(context.Context, string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan string)
	var failed firstError
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for it := range ch {
				if err := fn(ctx, it); err != nil {
					failed.set(fmt.Errorf("%s: %w", it, err))
					cancel()
				}
			}
		})
	}
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		ch <- it
	}
	close(ch)
	wg.Wait()
	if err := failed.get(); err != nil {
		return err
	}
	return ctx.Err()
}

// printScale writes the scale figures as a table, then one RESULT line
// each; vs1x is the figure divided by the same figure at the first step,
// so 10 at 10x is linear growth and 1 is flat.
func printScale(w io.Writer, res []scaleResult) {
	first := map[string]float64{}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scale\tstep\tvalue\tunit\tvs 1x\t")
	for _, r := range res {
		if _, ok := first[r.name]; !ok {
			first[r.name] = r.value
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%s\t%s\t\n", r.name, r.step, r.value, r.unit, vs1x(r.value, first[r.name]))
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range res {
		fmt.Fprintf(w, "RESULT workload=scale-%s-%s junction=%.1f unit=%s vs1x=%s\n", r.name, r.step, r.value, r.unit, vs1x(r.value, first[r.name]))
	}
}

func vs1x(v, first float64) string {
	if first == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v/first)
}

// parseCounts parses a comma-separated list of positive integers.
func parseCounts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseBytes parses a size such as 2GB, 500MB or 20000000 (decimal units),
// large enough that its hundredth holds a message.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(strings.ToUpper(strings.TrimSpace(s)), u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v*float64(u.mult) < 100*retainedValue {
				return 0, fmt.Errorf("%q: want a size of at least %d bytes, such as 2GB", s, 100*retainedValue)
			}
			return int64(v * float64(u.mult)), nil
		}
	}
	return 0, fmt.Errorf("%q: want a size such as 2GB", s)
}

// fmtBytes formats a size in decimal units: 20MB, 2GB.
func fmtBytes(n int64) string {
	switch {
	case n >= 1e9:
		return strconv.FormatFloat(float64(n)/1e9, 'g', 3, 64) + "GB"
	case n >= 1e6:
		return strconv.FormatFloat(float64(n)/1e6, 'g', 3, 64) + "MB"
	}
	return strconv.FormatFloat(float64(n)/1e3, 'g', 3, 64) + "KB"
}
