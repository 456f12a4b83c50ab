package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// settle flushes every file system (sync(2)) so that a workload does not pay
// for write-back the previous one left behind: NATS's default sync leaves
// gigabytes dirty, and on ext4 every fsync in the kernel's write-back window
// waits behind them. It reports to stderr how much was dirty and how long
// the flush took.
func settle() {
	dirty, err := dirtyBytes()
	start := time.Now()
	syscall.Sync()
	if err != nil {
		fmt.Fprintf(os.Stderr, "  settled the disks in %v (dirty bytes unknown: %v)\n", time.Since(start).Round(time.Millisecond), err)
		return
	}
	fmt.Fprintf(os.Stderr, "  settled the disks: %.1f MiB dirty or under write-back, flushed in %v\n", float64(dirty)/(1<<20), time.Since(start).Round(time.Millisecond))
}

// dirtyBytes returns the system's Dirty plus Writeback page-cache bytes.
func dirtyBytes() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "Dirty" && k != "Writeback") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/meminfo %s: %w", k, err)
		}
		n += kb << 10
	}
	return n, sc.Err()
}

// machine describes this machine for the report: OS/arch, CPUs, CPU model
// and Go version.
func machine() string {
	s := fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				s += ", " + strings.TrimSpace(v)
				break
			}
		}
	}
	return s + ", " + runtime.Version()
}

// resetPeakRSS resets the VmHWM of process pid to its current RSS, so the
// next PeakRSS covers only what runs in between (clear_refs value 5, Linux
// 4.0 and later).
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}
