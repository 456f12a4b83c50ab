package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// serverSample is what the broker process had spent at one moment: CPU
// time, and the count and total duration of its segment fsyncs (from
// /metrics). The difference of two samples around a workload says whether
// the broker was bound by CPU or by the disk.
type serverSample struct {
	at       time.Time
	cpu      time.Duration
	fsyncs   uint64
	fsyncDur time.Duration
}

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat: 100
// on every Linux architecture Go supports.
const clockTicks = 100

// sample reads the broker's CPU time and fsync totals.
func (j *junction) sample(ctx context.Context) (serverSample, error) {
	s := serverSample{at: time.Now()}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", j.cmd.Process.Pid))
	if err != nil {
		return s, err
	}
	// The command name, field 2, may hold spaces: count from its ')'.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: unexpected format", j.cmd.Process.Pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("/proc/%d/stat: bad utime %q or stime %q", j.cmd.Process.Pid, f[11], f[12])
	}
	s.cpu = time.Duration(utime+stime) * time.Second / clockTicks

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+j.addr+"/metrics", nil)
	if err != nil {
		return s, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("metrics: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		switch name {
		case "junction_fsync_latency_seconds_sum":
			secs, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return s, fmt.Errorf("metrics: %s %q: %w", name, v, err)
			}
			s.fsyncDur = time.Duration(secs * float64(time.Second))
		case "junction_fsync_latency_seconds_count":
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return s, fmt.Errorf("metrics: %s %q: %w", name, v, err)
			}
			s.fsyncs = uint64(n)
		}
	}
	return s, sc.Err()
}

// since describes what the broker spent between before and s: cores of
// CPU, fsyncs with their mean duration, and the share of the wall time an
// fsync was under way (with one log, near 100% means the disk bounds the
// workload).
func (s serverSample) since(before serverSample) string {
	wall := s.at.Sub(before.at)
	if wall <= 0 {
		return "no time elapsed"
	}
	cores := s.cpu.Seconds() - before.cpu.Seconds()
	n := s.fsyncs - before.fsyncs
	d := s.fsyncDur - before.fsyncDur
	out := fmt.Sprintf("broker used %.2f cores over %v, %d fsyncs", cores/wall.Seconds(), wall.Round(time.Millisecond), n)
	if n > 0 {
		out += fmt.Sprintf(" of %v mean, under way %.0f%% of the time", (d / time.Duration(n)).Round(10*time.Microsecond), 100*d.Seconds()/wall.Seconds())
	}
	return out
}
