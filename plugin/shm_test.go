package plugin

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/plugin/config"
)

// A sink plugin gets every record intact, key, value and headers, whether
// its batches lie in the memory it shares with the host or travel over
// gRPC (the host offers no shared memory, as on platforms without it):
// through the real file plugin, with writes larger than the region going
// over gRPC on the way.
func TestSinkPluginTakesBatchesThroughSharedMemory(t *testing.T) {
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			offerSharedMemory = shared
			t.Cleanup(func() { offerSharedMemory = true })
			root := t.TempDir()
			e := start(t, filepath.Join(root, "data"), RestartPolicy{})
			if _, err := e.b.CreateStation(t.Context(), broker.StationConfig{Name: "s", Partitions: 2}); err != nil {
				t.Fatal(err)
			}
			const n = 6000
			want := make(map[string]string, n)
			for i := 0; i < n; i += 500 {
				msgs := make([]broker.Message, 500)
				for j := range msgs {
					k := i + j
					// Some values larger than the whole region, so that
					// their writes go over gRPC.
					size := 1 + k%97
					if k%1000 == 999 {
						size = 1_100_000
					}
					key, value := fmt.Sprintf("k%d", k), fmt.Sprintf("%d:%s", k, strings.Repeat("x", size))
					want[key] = value
					msgs[j] = broker.Message{Key: []byte(key), Value: []byte(value),
						Headers: []broker.Header{{Key: "n", Value: fmt.Appendf(nil, "n%d", k)}}}
				}
				if _, err := e.b.Produce(t.Context(), "s", msgs); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(root, "out")
			def := fmt.Sprintf("name: f\nconnector: file\nkind: sink\nstation: s\nbatch: {max_records: 400, max_bytes: 256KiB, max_wait: 5ms}\nconfig: {dir: %s}\n", out)
			if got := sharedMemoryBytes(config.Batch{MaxRecords: 400, MaxBytes: 256 << 10}); got >= 1_100_000 {
				t.Fatalf("region of %d bytes: the large records would fit", got)
			}
			if _, _, _, err := e.h.Apply(context.Background(), "f.yaml", []byte(def)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "every record written", 60*time.Second, func() bool {
				st, _ := e.h.Status("f")
				return (st.RecordsOut >= n && st.Lag == 0) || st.Restarts > 0 || st.State == StateFailed
			})
			if st, _ := e.h.Status("f"); st.RecordsOut != n || st.Restarts != 0 || st.LastError != "" {
				t.Fatalf("status = out %d, restarts %d, last error %q", st.RecordsOut, st.Restarts, st.LastError)
			}
			got := fileSinkRecords(t, out)
			if len(got) != n {
				t.Fatalf("%d records written, want %d", len(got), n)
			}
			for key, value := range want {
				if got[key] != value {
					t.Fatalf("record %s: written %.40q, want %.40q", key, got[key], value)
				}
			}
			if used := e.logs.contains("through shared memory"); used != shared {
				t.Fatalf("batches went through shared memory: %v, want %v", used, shared)
			}
		})
	}
}

// fileSinkRecords reads what the file sink wrote under dir: each record's
// value by key, checking its header n against the value.
func fileSinkRecords(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl*"))
	out := map[string]string{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			var line struct {
				Key, Value string
				Headers    []struct{ Key, Value string }
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			key, value := line.Key, line.Value
			if _, dup := out[key]; dup {
				t.Fatalf("record %s written twice", key)
			}
			if len(line.Headers) != 1 || line.Headers[0].Key != "n" || "n"+strings.TrimSuffix(value, strings.TrimLeft(value, "0123456789")) != line.Headers[0].Value {
				t.Fatalf("record %s: headers %+v do not match its value %.40s", key, line.Headers, value)
			}
			out[key] = value
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		fh.Close()
	}
	return out
}
