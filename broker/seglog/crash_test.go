package seglog

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// crashChildEnv names the log directory of the child process of
// TestSIGKILLAcrossRolls; the child appends there until it is killed.
const crashChildEnv = "JUNCTION_SEGLOG_CRASH_CHILD_DIR"

// crashValue is the value of record i of the batch seq of appender w in
// round r: long enough that a segment rolls every few dozen batches.
func crashValue(r, w, seq, i int) string {
	return fmt.Sprintf("r%d-w%d-b%d-i%d-%s", r, w, seq, i, strings.Repeat("x", 100))
}

// TestSIGKILLAcrossRolls kills a process appending to a SyncAlways log with
// small segments, so that kills land before, during and after rolls (the
// sealing of a rolled segment runs in the background), and checks after
// each kill that the log opens without damage, holds every acknowledged
// batch at the offset it was acknowledged with, and that the next process
// gives out no offset twice.
func TestSIGKILLAcrossRolls(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped with -short")
	}
	dir := filepath.Join(t.TempDir(), "log")
	acked := make(map[uint64]string) // offset -> value of every acknowledged record
	var order []uint64
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILLAcrossRollsChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, fmt.Sprintf("JUNCTION_SEGLOG_CRASH_ROUND=%d", round))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a number of acknowledgements that differs per round,
		// so the kill falls at different points of the roll cycle.
		killAt := 150 + round*37
		sc := bufio.NewScanner(out)
		n := 0
		for sc.Scan() {
			var base uint64
			var r, w, seq, count int
			if _, err := fmt.Sscanf(sc.Text(), "ack %d %d %d %d %d", &base, &r, &w, &seq, &count); err != nil {
				continue
			}
			for i := range count {
				off := base + uint64(i)
				if _, dup := acked[off]; dup {
					t.Fatalf("round %d: offset %d acknowledged twice", round, off)
				}
				acked[off] = crashValue(r, w, seq, i)
				order = append(order, off)
			}
			if n++; n == killAt {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
			}
		}
		_ = cmd.Wait()
		if n < killAt {
			t.Fatalf("round %d: the child stopped after %d acknowledgements, before it was killed", round, n)
		}

		l := mustOpen(t, Options{Dir: dir, Logger: quiet, SegmentBytes: 16 << 10})
		if st := l.Status(); len(st.Damaged) > 0 {
			t.Fatalf("round %d: damage after SIGKILL: %+v", round, st.Damaged)
		}
		if segs := len(l.Segments()); segs < 2*(round+1) {
			t.Fatalf("round %d: only %d segments: the log did not roll", round, segs)
		}
		got := make(map[uint64]string)
		for _, r := range readAll(t, l, l.StartOffset(), 1<<20) {
			got[r.Offset] = string(r.Value)
		}
		for _, off := range order {
			if got[off] != acked[off] {
				t.Fatalf("round %d: offset %d holds %.20q, acknowledged %.20q", round, off, got[off], acked[off])
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSIGKILLAcrossRollsChild is the process TestSIGKILLAcrossRolls kills:
// four appenders append to the log until then, printing every
// acknowledged batch.
func TestSIGKILLAcrossRollsChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("run by TestSIGKILLAcrossRolls")
	}
	var round int
	fmt.Sscan(os.Getenv("JUNCTION_SEGLOG_CRASH_ROUND"), &round)
	l, err := Open(Options{Dir: dir, Logger: quiet, SegmentBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for seq := 0; ; seq++ {
				count := 1 + (w+seq)%5
				rs := make([]Record, count)
				for i := range rs {
					rs[i] = Record{Value: []byte(crashValue(round, w, seq, i))}
				}
				base, err := l.Append(context.Background(), rs)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				fmt.Printf("ack %d %d %d %d %d\n", base, round, w, seq, count)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
