package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/plugin"

	// The generate input and the file output of the Benthos peer.
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
)

// The connect workload measures the connector path, in this process: a
// broker (fsync always) holds a station pre-filled with -prefill records of
// each size (capped at maxPrefillBytes), which is then moved to three
// destinations, each counted where the records arrive:
//
//	in-process  pull and ack as consumer group, no plugin (the baseline)
//	discard     a sink plugin that drops every record (the process boundary)
//	file        the file connector: JSON lines, fsynced per batch
//
// and, as the peer, a Benthos stream generating the same records into a
// file (lines, Benthos does not fsync). It prints one RESULT line per
// destination:
//
//	RESULT workload=connect-discard-128B junction=X in-process=Y unit=rec/s ratio=X/Y
//	RESULT workload=connect-file-128B junction=X benthos=Y unit=rec/s ratio=X/Y

// connectBatch is the sink connectors' batch, as a connector YAML sets it.
const connectBatch = "batch: {max_records: 10000, max_wait: 5ms}"

func runConnect(ctx context.Context, cfg config) error {
	dir, err := os.MkdirTemp("", "junction-bench-connect-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	plugins := filepath.Join(dir, "plugins")
	if err := buildPlugins(ctx, plugins); err != nil {
		return err
	}
	var results []string
	for _, size := range cfg.sizes {
		n := min(cfg.prefill, maxPrefillBytes/size)
		fmt.Fprintf(os.Stderr, "running connect %s: %d records\n", sizeName(size), n)
		rates, err := connectJunction(ctx, filepath.Join(dir, "junction-"+sizeName(size)), plugins, size, n)
		if err != nil {
			return fmt.Errorf("connect %s: %w", sizeName(size), err)
		}
		peer, err := connectBenthos(ctx, filepath.Join(dir, "benthos-"+sizeName(size)), size, n)
		if err != nil {
			return fmt.Errorf("connect %s on benthos: %w", sizeName(size), err)
		}
		name := "connect-%s-" + sizeName(size)
		results = append(results,
			fmt.Sprintf("RESULT workload=%s junction=%.0f unit=rec/s", fmt.Sprintf(name, "in-process"), rates["in-process"]),
			connectResult(fmt.Sprintf(name, "discard"), rates["discard"], "in-process", rates["in-process"]),
			connectResult(fmt.Sprintf(name, "file"), rates["file"], "benthos", peer))
	}
	fmt.Fprintln(cfg.report)
	for _, r := range results {
		fmt.Fprintln(cfg.report, r)
	}
	return nil
}

func connectResult(name string, junction float64, peer string, other float64) string {
	ratio := "inf"
	if other > 0 {
		ratio = fmt.Sprintf("%.2f", junction/other)
	}
	return fmt.Sprintf("RESULT workload=%s junction=%.0f %s=%.0f unit=rec/s ratio=%s", name, junction, peer, other, ratio)
}

// buildPlugins builds the file connector and the discard test plugin of
// the junction module into dir.
func buildPlugins(ctx context.Context, dir string) error {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/junctionhq/junction").Output()
	if err != nil {
		return fmt.Errorf("locate the junction module: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	fmt.Fprintln(os.Stderr, "building the file and discard connector plugins")
	for name, pkg := range map[string]string{"file": "./connectors/file", "discard": "./plugin/testdata/plugins/discard"} {
		build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, name), pkg)
		build.Dir, build.Stdout, build.Stderr = mod, os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build the %s plugin: %w", name, err)
		}
	}
	return nil
}

// connectValue is a record value of size bytes: a JSON document, the same
// bytes for every record and on both systems.
func connectValue(size int) []byte {
	const head, tail = `{"note":"`, `"}`
	return fmt.Appendf(nil, "%s%s%s", head, bytes.Repeat([]byte("x"), max(size-len(head)-len(tail), 0)), tail)[:size]
}

// connectJunction fills a station with n records of size bytes and
// returns the rec/s of each destination.
func connectJunction(ctx context.Context, dir, plugins string, size, n int) (map[string]float64, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := broker.Open(broker.Options{DataDir: filepath.Join(dir, "data"), Logger: log, RetentionInterval: time.Hour})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	h, err := plugin.New(ctx, plugin.Options{Broker: b, Store: b.Connectors(), PluginDirs: []string{plugins}, Logger: log})
	if err != nil {
		return nil, err
	}
	defer h.Close()
	if _, err := b.CreateStation(ctx, broker.StationConfig{Name: "s"}); err != nil {
		return nil, err
	}
	value := connectValue(size)
	msgs := make([]broker.Message, 1000)
	for i := range msgs {
		msgs[i] = broker.Message{Value: value}
	}
	for i := 0; i < n; i += len(msgs) {
		if _, err := b.Produce(ctx, "s", msgs[:min(len(msgs), n-i)]); err != nil {
			return nil, err
		}
	}
	rates := make(map[string]float64)
	start := time.Now()
	if err := consumeAll(ctx, b, n); err != nil {
		return nil, err
	}
	rates["in-process"] = float64(n) / time.Since(start).Seconds()
	for _, dest := range []string{"discard", "file"} {
		def := fmt.Sprintf("name: %s\nconnector: %s\nkind: sink\nstation: s\n%s\n", dest, dest, connectBatch)
		if dest == "file" {
			def += fmt.Sprintf("config: {dir: %s}\n", filepath.Join(dir, "out"))
		}
		start := time.Now()
		if _, _, _, err := h.Apply(ctx, dest+".yaml", []byte(def)); err != nil {
			return nil, err
		}
		for {
			st, err := h.Status(dest)
			if err != nil {
				return nil, err
			}
			if st.RecordsOut >= uint64(n) {
				break
			}
			if st.State == plugin.StateFailed {
				return nil, fmt.Errorf("connector %s failed: %s", dest, st.LastError)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
		rates[dest] = float64(n) / time.Since(start).Seconds()
	}
	return rates, nil
}

// consumeAll pulls and acks n records as one consumer group member.
func consumeAll(ctx context.Context, b *broker.Broker, n int) error {
	var refs []broker.MessageRef
	for got := 0; got < n; {
		ds, err := b.Pull(ctx, "s", "in-process", broker.PullOptions{Max: 10000, MaxWait: time.Second})
		if err != nil {
			return err
		}
		refs = refs[:0]
		for _, d := range ds {
			refs = append(refs, broker.MessageRef{Partition: d.Partition, Offset: d.Record.Offset})
		}
		if err := b.Ack(ctx, "s", "in-process", refs); err != nil {
			return err
		}
		got += len(ds)
	}
	return nil
}

// connectBenthos runs a Benthos stream that generates n records of size
// bytes into a file, and returns its rec/s.
func connectBenthos(ctx context.Context, dir string, size, n int) (float64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	out := filepath.Join(dir, "out.jsonl")
	sb := service.NewStreamBuilder()
	err := sb.SetYAML(fmt.Sprintf(`
input:
  generate:
    mapping: 'root = %q'
    interval: ""
    count: %d
    batch_size: 1000
output:
  file:
    path: %q
    codec: lines
logger:
  level: NONE
metrics:
  none: {}
`, connectValue(size), n, out))
	if err != nil {
		return 0, fmt.Errorf("configure: %w", err)
	}
	stream, err := sb.Build()
	if err != nil {
		return 0, fmt.Errorf("build: %w", err)
	}
	start := time.Now()
	if err := stream.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return 0, fmt.Errorf("run: %w", err)
	}
	elapsed := time.Since(start)
	fi, err := os.Stat(out)
	if err != nil {
		return 0, err
	}
	if want := int64(n) * int64(size+1); fi.Size() != want {
		return 0, fmt.Errorf("benthos wrote %d bytes, want %d (%d lines of %d bytes)", fi.Size(), want, n, size+1)
	}
	return float64(n) / elapsed.Seconds(), nil
}
