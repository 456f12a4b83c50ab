package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/server"
)

// startBroker runs a real broker on a loopback port and returns its address.
func startBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(context.Background(), server.Options{
		DataDir: t.TempDir(),
		Listen:  ln.Addr().String(),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, ln)
	if err != nil {
		ln.Close()
		t.Fatalf("server.Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// cli runs junction against addr and fails the test on a non-zero exit.
func cli(t *testing.T, addr, stdin string, args ...string) (string, string) {
	t.Helper()
	out, errs, code := runCLI(t, stdin, append([]string{"--server", addr}, args...)...)
	if code != 0 {
		t.Fatalf("junction %s: exit %d\nstderr: %s", strings.Join(args, " "), code, errs)
	}
	return out, errs
}

func TestCLIStations(t *testing.T) {
	addr := startBroker(t)
	_, errs := cli(t, addr, "", "station", "create", "orders", "--partitions", "3", "--storage", "memory",
		"--retention-age", "7d", "--retention-bytes", "1GiB", "--retention-messages", "1000", "--fsync", "never",
		"--dedup-window", "2m", "--max-deliveries", "5", "--max-message-bytes", "64KiB")
	if !strings.Contains(errs, `station "orders" created`) {
		t.Errorf("create stderr %q", errs)
	}
	cli(t, addr, "", "station", "create", "orders-dlq")
	cli(t, addr, "", "station", "create", "jobs", "--dlq", "orders-dlq", "--retention-ack")

	out, _ := cli(t, addr, "", "station", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[1], "jobs ") || !strings.HasPrefix(lines[2], "orders ") {
		t.Errorf("station list:\n%s", out)
	}

	out, _ = cli(t, addr, "", "station", "describe", "orders", "-o", "json")
	var st stationJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("describe -o json: %v\n%s", err, out)
	}
	if st.Name != "orders" || st.Partitions != 3 || st.Storage != "memory" || st.Fsync != "never" || st.Retention.MaxAge != "1w" ||
		st.Retention.MaxBytes != 1<<30 || st.Retention.MaxMessages != 1000 || st.DedupWindow != "2m" || st.MaxDeliveries != 5 || st.MaxMessageBytes != 64<<10 {
		t.Errorf("describe: %+v", st)
	}
	out, _ = cli(t, addr, "", "station", "describe", "jobs")
	if !strings.Contains(out, "orders-dlq") || !strings.Contains(out, "until acked") {
		t.Errorf("describe text:\n%s", out)
	}

	_, errs, code := runCLI(t, "", "--server", addr, "station", "create", "orders")
	if code != 1 || !strings.HasPrefix(errs, "junction: ") || !strings.Contains(errs, "orders") {
		t.Errorf("duplicate create: exit %d, %q", code, errs)
	}
	_, errs, code = runCLI(t, "", "--server", addr, "station", "describe", "nope")
	if code != 1 || !strings.Contains(errs, "nope") {
		t.Errorf("describe missing: exit %d, %q", code, errs)
	}

	cli(t, addr, "", "station", "delete", "orders")
	out, _ = cli(t, addr, "", "station", "list", "-o", "json")
	var list []stationJSON
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 {
		t.Errorf("list after delete: %v %s", err, out)
	}
}

func TestCLIProduceConsumeInOrder(t *testing.T) {
	addr := startBroker(t)
	cli(t, addr, "", "station", "create", "orders")
	const n = 100000
	var in strings.Builder
	for i := 1; i <= n; i++ {
		in.WriteString(strconv.Itoa(i))
		in.WriteByte('\n')
	}
	_, errs := cli(t, addr, in.String(), "produce", "orders")
	if strings.TrimSpace(errs) != fmt.Sprintf("%d messages acked", n) {
		t.Fatalf("produce stderr %q", errs)
	}
	out, _ := cli(t, addr, "", "consume", "orders", "--group", "g", "--count", strconv.Itoa(n))
	if out != in.String() {
		got := strings.SplitN(out, "\n", 5)
		t.Fatalf("consumed %d bytes, want %d; starts %q", len(out), in.Len(), got)
	}
	// Everything was acked: nothing more for the group.
	out, _ = cli(t, addr, "", "consume", "orders", "--group", "g", "--idle", "200ms")
	if out != "" {
		t.Fatalf("second consume printed %d bytes", len(out))
	}
	out, _ = cli(t, addr, "", "group", "describe", "orders", "g", "-o", "json")
	var g groupJSON
	if err := json.Unmarshal([]byte(out), &g); err != nil || g.Lag != 0 || g.Pending != 0 {
		t.Fatalf("group after consuming: %v %s", err, out)
	}
}

func TestCLIProduceArgsAndJSON(t *testing.T) {
	addr := startBroker(t)
	cli(t, addr, "", "station", "create", "events")
	_, errs := cli(t, addr, "", "produce", "events", "--key", "k1", "-H", "source=test", "-H", "n=1", "hello", `{"a":1}`)
	if !strings.Contains(errs, "2 messages acked") {
		t.Fatalf("produce stderr %q", errs)
	}
	out, _ := cli(t, addr, "", "consume", "events", "-g", "g", "--count", "2", "-o", "json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("json lines: %q", out)
	}
	var d deliveryJSON
	if err := json.Unmarshal([]byte(lines[1]), &d); err != nil {
		t.Fatal(err)
	}
	if d.Offset != 1 || d.Key == nil || *d.Key != "k1" || d.Value == nil || *d.Value != `{"a":1}` || d.DeliveryCount != 1 ||
		len(d.Headers) != 2 || d.Headers[0].Key != "source" || d.Timestamp.IsZero() {
		t.Errorf("json delivery %s", lines[1])
	}

	// --from latest on a new group skips what is there; --no-ack leaves
	// messages pending.
	out, _ = cli(t, addr, "", "consume", "events", "-g", "late", "--from", "latest", "--idle", "200ms")
	if out != "" {
		t.Errorf("--from latest printed %q", out)
	}
	out, _ = cli(t, addr, "", "consume", "events", "-g", "peek", "--no-ack", "--count", "1")
	if out != "hello\n" {
		t.Errorf("--no-ack printed %q", out)
	}
	out, _ = cli(t, addr, "", "group", "describe", "events", "peek")
	if !strings.Contains(out, "Pending:") {
		t.Errorf("describe:\n%s", out)
	}
}

func TestCLIProduceToMissingStation(t *testing.T) {
	addr := startBroker(t)
	_, errs, code := runCLI(t, "x\n", "--server", addr, "produce", "nope")
	if code != 1 || !strings.Contains(errs, "nope") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

func TestCLIGroups(t *testing.T) {
	addr := startBroker(t)
	cli(t, addr, "", "station", "create", "orders")
	cli(t, addr, "", "produce", "orders", "a", "b", "c")
	cli(t, addr, "", "consume", "orders", "-g", "billing", "--count", "3")
	cli(t, addr, "", "consume", "orders", "-g", "audit", "--count", "1")

	out, _ := cli(t, addr, "", "group", "list", "orders")
	if !strings.Contains(out, "billing") || !strings.Contains(out, "audit") {
		t.Errorf("group list:\n%s", out)
	}
	out, _ = cli(t, addr, "", "group", "list", "orders", "-o", "json")
	var gs []groupJSON
	if err := json.Unmarshal([]byte(out), &gs); err != nil || len(gs) != 2 {
		t.Fatalf("group list json: %v %s", err, out)
	}
	out, _ = cli(t, addr, "", "group", "describe", "orders", "audit", "-o", "json")
	var g groupJSON
	if err := json.Unmarshal([]byte(out), &g); err != nil || g.Lag != 2 {
		t.Errorf("audit group: %v %s", err, out)
	}

	cli(t, addr, "", "group", "reset", "orders", "billing", "--to", "1")
	out, _ = cli(t, addr, "", "consume", "orders", "-g", "billing", "--idle", "300ms")
	if out != "b\nc\n" {
		t.Errorf("after reset to 1: %q", out)
	}
	cli(t, addr, "", "group", "reset", "orders", "billing", "--to", "earliest")
	out, _ = cli(t, addr, "", "consume", "orders", "-g", "billing", "--count", "1")
	if out != "a\n" {
		t.Errorf("after reset to earliest: %q", out)
	}

	cli(t, addr, "", "group", "delete", "orders", "audit")
	_, errs, code := runCLI(t, "", "--server", addr, "group", "describe", "orders", "audit")
	if code != 1 || !strings.Contains(errs, "audit") {
		t.Errorf("describe deleted group: exit %d, %q", code, errs)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCLIConsumeInterruptAcksPrinted(t *testing.T) {
	addr := startBroker(t)
	cli(t, addr, "", "station", "create", "orders")
	cli(t, addr, "", "produce", "orders", "a", "b", "c")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errs syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"--server", addr, "consume", "orders", "-g", "g"}, strings.NewReader(""), &out, &errs, nil)
	}()
	waitFor(t, "three messages printed", func() bool { return out.String() == "a\nb\nc\n" })
	cancel() // what SIGINT does
	if code := <-done; code != 0 {
		t.Fatalf("interrupted consume: exit %d, stderr %q", code, errs.String())
	}
	o, _ := cli(t, addr, "", "group", "describe", "orders", "g", "-o", "json")
	var g groupJSON
	if err := json.Unmarshal([]byte(o), &g); err != nil || g.Lag != 0 || g.Pending != 0 {
		t.Fatalf("after interrupt: %v %s", err, o)
	}
}

func TestCLIServerRunsUntilInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errs syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"server", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--log-level", "debug"},
			strings.NewReader(""), &out, &errs, nil)
	}()
	re := regexp.MustCompile(`addr=(\S+)`)
	var addr string
	waitFor(t, "the server to log its address", func() bool {
		if m := re.FindStringSubmatch(errs.String()); m != nil {
			addr = m[1]
			return true
		}
		select {
		case code := <-done:
			t.Fatalf("server exited early with %d: %s", code, errs.String())
		default:
		}
		return false
	})
	cli(t, addr, "", "station", "create", "s")
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("server exit %d: %s", code, errs.String())
	}
}

func TestCLIStationUpdate(t *testing.T) {
	addr := startBroker(t)
	cli(t, addr, "", "station", "create", "events", "--retention-age", "7d", "--retention-messages", "100")
	cli(t, addr, "", "station", "create", "dead")
	_, errs := cli(t, addr, "", "station", "update", "events", "--retention-bytes", "1GiB", "--dlq", "dead", "--max-deliveries", "9")
	if !strings.Contains(errs, `station "events" updated`) {
		t.Fatalf("update stderr %q", errs)
	}
	out, _ := cli(t, addr, "", "station", "describe", "events", "-o", "json")
	var st struct {
		Retention struct {
			MaxAge      string `json:"max_age"`
			MaxBytes    int64  `json:"max_bytes"`
			MaxMessages int64  `json:"max_messages"`
		} `json:"retention"`
		DeadLetterStation string `json:"dead_letter_station"`
		MaxDeliveries     int    `json:"max_deliveries"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if st.Retention.MaxAge != "1w" || st.Retention.MaxBytes != 1<<30 || st.Retention.MaxMessages != 100 || st.DeadLetterStation != "dead" || st.MaxDeliveries != 9 {
		t.Fatalf("after update: %s", out)
	}
	// The dead-letter station is in use: deleting it needs --force.
	_, errs, code := runCLI(t, "", "--server", addr, "station", "delete", "dead")
	if code != 1 || !strings.Contains(errs, `station "dead" is the dead-letter station of "events"`) {
		t.Fatalf("delete of a dead-letter station in use: exit %d, %q", code, errs)
	}
	if _, errs, code := runCLI(t, "", "--server", addr, "station", "delete", "dead", "--force"); code != 0 {
		t.Fatalf("forced delete: exit %d, %q", code, errs)
	}
	// A dead-letter station may be named before it exists.
	if _, errs, code := runCLI(t, "", "--server", addr, "station", "update", "events", "--dlq", "not-yet"); code != 0 {
		t.Fatalf("update to a dead-letter station made on demand: exit %d, %q", code, errs)
	}
	_, _, code = runCLI(t, "", "--server", addr, "station", "update", "events")
	if code != 2 {
		t.Fatalf("update without settings: exit %d, want 2", code)
	}
}
