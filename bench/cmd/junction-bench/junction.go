package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/junctionhq/junction/sdk/client"
)

// junction is a Junction broker running as a child process, driven through
// the Go SDK.
type junction struct {
	dir  string // temp dir with the data dir (and the built binary)
	cmd  *exec.Cmd
	addr string
	c    *client.Client
}

// startJunction builds the junction binary (unless bin names one), starts
// `junction server` on a free loopback port and waits for /healthz.
func startJunction(ctx context.Context, bin string) (_ *junction, err error) {
	dir, err := os.MkdirTemp("", "junction-bench-")
	if err != nil {
		return nil, err
	}
	j := &junction{dir: dir}
	defer func() {
		if err != nil {
			j.Close()
		}
	}()
	if bin == "" {
		if bin, err = buildJunction(ctx, dir); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	j.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	j.cmd = exec.Command(bin, "server", "--data", filepath.Join(dir, "data"), "--listen", j.addr, "--log-level", "warn")
	j.cmd.Stdout, j.cmd.Stderr = os.Stderr, os.Stderr
	// Own process group, so a terminal's Ctrl-C reaches only the bench,
	// which then stops the broker; killed if the bench dies.
	j.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := j.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start junction: %w", err)
	}
	if err := waitHealthy(ctx, "http://"+j.addr+"/healthz"); err != nil {
		return nil, err
	}
	if j.c, err = client.Connect(ctx, j.addr); err != nil {
		return nil, err
	}
	return j, nil
}

// buildJunction builds ./cmd/junction of the main module into dir.
func buildJunction(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/junctionhq/junction").Output()
	if err != nil {
		return "", fmt.Errorf("locate the junction module: %w", err)
	}
	bin := filepath.Join(dir, "junction")
	fmt.Fprintln(os.Stderr, "building junction")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/junction")
	build.Dir = strings.TrimSpace(string(out))
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build junction: %w", err)
	}
	return bin, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitHealthy polls url until it answers 200, for at most 30 s.
func waitHealthy(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("junction did not become healthy at %s: %w", url, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (j *junction) Name() string { return "junction" }

// PeakRSS returns the broker process's peak resident set size in bytes.
func (j *junction) PeakRSS() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", j.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// Close kills the broker and removes its data.
func (j *junction) Close() {
	if j.c != nil {
		j.c.Close()
		j.c = nil
	}
	if j.cmd != nil && j.cmd.Process != nil {
		_ = j.cmd.Process.Kill()
		_ = j.cmd.Wait()
		j.cmd = nil
	}
	if j.dir != "" {
		os.RemoveAll(j.dir)
		j.dir = ""
	}
}

// createStation creates a one-partition fsync-always station.
func (j *junction) createStation(ctx context.Context, name string) error {
	_, err := j.c.CreateStation(ctx, client.StationConfig{Name: name, Partitions: 1, Fsync: client.FsyncAlways})
	return err
}

// Produce runs s.producers Producers, each on its own client connection,
// and counts the messages the broker acknowledged.
func (j *junction) Produce(ctx context.Context, s produceSpec) (measurement, error) {
	if err := j.createStation(ctx, s.station); err != nil {
		return measurement{}, err
	}
	clients := make([]*client.Client, s.producers)
	for i := range clients {
		c, err := client.Connect(ctx, j.addr)
		if err != nil {
			return measurement{}, err
		}
		defer c.Close()
		clients[i] = c
	}
	value := payload(s.size)
	var acked atomic.Int64
	var failed firstError
	done := func(_ client.Result, err error) {
		if err != nil {
			failed.set(err)
			return
		}
		acked.Add(1)
	}
	m := startMeter()
	deadline := m.start.Add(s.duration)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			p := c.NewProducer(s.station, client.ProducerOptions{})
			for i := 0; s.more(i, deadline) && ctx.Err() == nil; i++ {
				p.SendFunc(ctx, client.Message{Value: value}, done)
			}
			_ = p.Close(ctx)
		})
	}
	wg.Wait()
	res := m.stop(acked.Load(), s.size)
	if err := failed.get(); err != nil {
		return res, fmt.Errorf("produce: %w", err)
	}
	return res, ctx.Err()
}

// prefill stores n messages of size bytes in station.
func (j *junction) prefill(ctx context.Context, station string, size, n int) error {
	p := j.c.NewProducer(station, client.ProducerOptions{})
	value := payload(size)
	var failed firstError
	for range n {
		p.SendFunc(ctx, client.Message{Value: value}, func(_ client.Result, err error) { failed.set(err) })
	}
	if err := p.Close(ctx); err != nil {
		return err
	}
	return failed.get()
}

// consumeBatch is the most messages per pull (and so per ack request).
const consumeBatch = 1000

// ConsumeAck pre-fills n messages, then pulls them in batches and acks each
// one. The consumer prefetches (it streams, as the JetStream consumer
// does); the acks of a batch go in one Ack request, which the next Pull
// sends.
func (j *junction) ConsumeAck(ctx context.Context, station string, size, n int) (measurement, error) {
	if err := j.createStation(ctx, station); err != nil {
		return measurement{}, err
	}
	if err := j.prefill(ctx, station, size, n); err != nil {
		return measurement{}, fmt.Errorf("prefill: %w", err)
	}
	cons := j.c.NewConsumer(station, "bench", client.ConsumerOptions{BatchSize: consumeBatch, MaxWait: time.Second, Prefetch: true})
	m := startMeter()
	got := 0
	for got < n {
		ds, err := cons.Pull(ctx, min(consumeBatch, n-got))
		if err != nil {
			return measurement{}, fmt.Errorf("pull: %w", err)
		}
		if len(ds) == 0 {
			return measurement{}, fmt.Errorf("pull: no message within 1s after %d of %d", got, n)
		}
		for _, d := range ds {
			d.Ack()
		}
		got += len(ds)
	}
	if err := cons.Close(ctx); err != nil {
		return measurement{}, fmt.Errorf("ack: %w", err)
	}
	res := m.stop(int64(got), size)
	g, err := j.c.Group(ctx, station, "bench")
	if err != nil {
		return res, err
	}
	if g.Lag != 0 || g.Pending != 0 {
		return res, fmt.Errorf("after acking every message the group has lag %d, %d pending", g.Lag, g.Pending)
	}
	return res, nil
}

// Latency sends s.rate msgs/s, each carrying its send time, for s.duration
// while one consumer receives and acks them. It records publish→receive
// (e2e) and publish→acknowledged (ack) latencies.
func (j *junction) Latency(ctx context.Context, s latencySpec) (measurement, error) {
	if err := j.createStation(ctx, s.station); err != nil {
		return measurement{}, err
	}
	if _, err := j.c.CreateGroup(ctx, s.station, "bench", client.Earliest, client.GroupConfig{}); err != nil {
		return measurement{}, err
	}
	epoch := time.Now()
	lr := newLatencyRecorder(s)

	cctx, stopConsumer := context.WithCancel(ctx)
	consumed := make(chan error, 1)
	go func() {
		cons := j.c.NewConsumer(s.station, "bench", client.ConsumerOptions{BatchSize: consumeBatch})
		defer cons.Close(context.WithoutCancel(ctx))
		for cctx.Err() == nil {
			ds, err := cons.PullWait(cctx, consumeBatch, 100*time.Millisecond)
			if err != nil {
				consumed <- err
				return
			}
			now := time.Since(epoch)
			for _, d := range ds {
				if d.DeliveryCount == 1 {
					lr.receive(now - sentAt(d.Value))
				}
				d.Ack()
			}
		}
		consumed <- nil
	}()

	p := j.c.NewProducer(s.station, client.ProducerOptions{})
	var failed firstError
	m := startMeter()
	lr.pace(ctx, s, func() {
		sent := time.Since(epoch)
		value := stamped(s.size, sent)
		p.SendFunc(ctx, client.Message{Value: value}, func(_ client.Result, err error) {
			if err != nil {
				failed.set(err)
				return
			}
			lr.acked(time.Since(epoch) - sent)
		})
	})
	err := p.Close(ctx)
	if perr := failed.get(); err == nil && perr != nil {
		err = fmt.Errorf("produce: %w", perr)
	}
	if err == nil {
		err = lr.wait(ctx)
	}
	res := lr.measurement(m, s.size)
	stopConsumer()
	if cerr := <-consumed; cerr != nil && !errors.Is(cerr, context.Canceled) {
		err = fmt.Errorf("consume: %w", cerr)
	}
	return res, err
}
