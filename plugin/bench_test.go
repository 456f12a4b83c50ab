package plugin

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker"
)

// BenchmarkSink moves a station of b.N 128-byte messages to a destination
// and reports records/s counted there: consumed in-process (the baseline),
// through the discard plugin (the cost of the process boundary), and
// through the file plugin (JSON lines, fsynced); then 1 KiB messages
// in-process and through the discard plugin.
func BenchmarkSink(b *testing.B) {
	for _, run := range []struct {
		dest, name string
		size       int
	}{
		{"in-process", "in-process", 128}, {"discard", "discard", 128}, {"file", "file", 128},
		{"in-process", "in-process-1KiB", 1024}, {"discard", "discard-1KiB", 1024},
	} {
		dest, size := run.dest, run.size
		b.Run(run.name, func(b *testing.B) {
			root := b.TempDir()
			e := startBench(b, filepath.Join(root, "data"))
			if _, err := e.b.CreateStation(b.Context(), broker.StationConfig{Name: "s"}); err != nil {
				b.Fatal(err)
			}
			value := make([]byte, size)
			for i := 0; i < b.N; i += 1000 {
				msgs := make([]broker.Message, min(1000, b.N-i))
				for j := range msgs {
					msgs[j] = broker.Message{Value: value}
				}
				if _, err := e.b.Produce(context.Background(), "s", msgs); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			start, cpu := time.Now(), hostCPU()
			switch dest {
			case "in-process":
				consumeInProcess(b, e.b, b.N)
			default:
				def := fmt.Sprintf("name: bench\nconnector: %s\nkind: sink\nstation: s\nbatch: {max_records: 10000, max_wait: 5ms}\n", dest)
				if dest == "file" {
					def += fmt.Sprintf("config: {dir: %s}\n", filepath.Join(root, "out"))
				}
				if _, _, _, err := e.h.Apply(context.Background(), "bench.yaml", []byte(def)); err != nil {
					b.Fatal(err)
				}
				for {
					st, _ := e.h.Status("bench")
					if st.RecordsOut >= uint64(b.N) {
						break
					}
					if st.State == StateFailed {
						b.Fatalf("connector failed: %s", st.LastError)
					}
					time.Sleep(time.Millisecond)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(b.N)*float64(size)/elapsed.Seconds()/1e6, "MB/s")
			// CPU time per record says more than records/s on a busy
			// machine: the host's, and the plugin's (started after the
			// timer, so all of its time is the run's).
			b.ReportMetric(float64((hostCPU()-cpu).Nanoseconds())/float64(b.N), "host-cpu-ns/rec")
			if dest != "in-process" {
				b.ReportMetric(float64(childrenCPU().Nanoseconds())/float64(b.N), "plugin-cpu-ns/rec")
			}
		})
	}
}

func consumeInProcess(b *testing.B, br *broker.Broker, n int) {
	got := 0
	for got < n {
		ds, err := br.Pull(context.Background(), "s", "g", broker.PullOptions{Max: 10000, MaxWait: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		refs := make([]broker.MessageRef, len(ds))
		for i, d := range ds {
			refs[i] = broker.MessageRef{Partition: d.Partition, Offset: d.Record.Offset}
		}
		if err := br.Ack(b.Context(), "s", "g", refs); err != nil {
			b.Fatal(err)
		}
		got += len(ds)
	}
}

// hostCPU returns the user and system CPU time this process used.
func hostCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// childrenCPU returns the user and system CPU time of this process's
// running child processes, from /proc (0 where there is none).
func childrenCPU() time.Duration {
	const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux
	entries, _ := os.ReadDir("/proc")
	var total time.Duration
	self := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name, which ends at the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(stat[i+1:])
		if len(f) < 13 || string(f[1]) != self {
			continue
		}
		ut, _ := strconv.Atoi(string(f[11]))
		st, _ := strconv.Atoi(string(f[12]))
		total += time.Duration(ut+st) * tick
	}
	return total
}
