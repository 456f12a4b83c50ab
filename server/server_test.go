package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// When JUNCTION_TEST_CHILD_DATA is set, the test binary is a broker process
// for the crash tests: it serves on a free loopback port, prints the
// address, and runs until killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("JUNCTION_TEST_CHILD_DATA"); dir != "" {
		runChild(dir)
		return
	}
	dir, err := os.MkdirTemp("", "junction-plugins-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testPlugins = dir
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "file"), "../connectors/file")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build the file connector:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testPlugins holds the connector plugins built for these tests.
var testPlugins string

func runChild(dir string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	segBytes, _ := strconv.ParseInt(os.Getenv("JUNCTION_TEST_SEGMENT_BYTES"), 10, 64)
	s, err := Start(context.Background(), Options{DataDir: dir, SegmentBytes: segBytes, PluginDirs: []string{os.Getenv("JUNCTION_TEST_PLUGINS")},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)), Security: SecurityOptions{FileRoots: []string{os.TempDir()}}}, ln)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		os.Exit(1)
	}
	fmt.Println("ADDR", s.Addr())
	select {}
}

type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, dir string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "JUNCTION_TEST_CHILD_DATA="+dir, "JUNCTION_TEST_SEGMENT_BYTES=65536", "JUNCTION_TEST_PLUGINS="+testPlugins)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &lockedWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("broker process did not start: %q %v\n%s", line, err, stderr.String())
	}
	return &child{cmd: cmd, addr: strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
}

type clients struct {
	stations   junctionv1connect.StationServiceClient
	messages   junctionv1connect.MessageServiceClient
	groups     junctionv1connect.GroupServiceClient
	connectors junctionv1connect.ConnectorServiceClient
}

func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

func newClients(addr string, opts ...connect.ClientOption) clients {
	base := "http://" + addr
	hc := h2cClient()
	opts = append([]connect.ClientOption{connect.WithGRPC()}, opts...)
	return clients{
		stations:   junctionv1connect.NewStationServiceClient(hc, base, opts...),
		messages:   junctionv1connect.NewMessageServiceClient(hc, base, opts...),
		groups:     junctionv1connect.NewGroupServiceClient(hc, base, opts...),
		connectors: junctionv1connect.NewConnectorServiceClient(hc, base, opts...),
	}
}

func startInProcess(t *testing.T) (*Server, clients) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), Options{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), MaxMessageBytes: 1024}, ln)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, newClients(s.Addr())
}

func values(n, from int) []*v1.Message {
	msgs := make([]*v1.Message, n)
	for i := range msgs {
		msgs[i] = &v1.Message{Value: []byte(strconv.Itoa(from + i))}
	}
	return msgs
}

// readStation reads every message of a single-partition station through a
// fresh group, acking as it goes.
func readStation(t *testing.T, c clients, station, group string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for {
		resp, err := c.messages.Pull(ctx, connect.NewRequest(&v1.PullRequest{Station: station, Group: group, MaxMessages: 1000, MaxWait: durationpb.New(200 * time.Millisecond)}))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Msg.Messages) == 0 {
			return out
		}
		refs := &v1.MessageRefs{}
		for _, d := range resp.Msg.Messages {
			out = append(out, string(d.Value))
			refs.Offsets = append(refs.Offsets, d.Offset)
		}
		if _, err := c.messages.Ack(ctx, connect.NewRequest(&v1.AckRequest{Station: station, Group: group, Messages: []*v1.MessageRefs{refs}})); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSIGKILLMidProduceLosesNothingAcknowledged kills the broker process
// while a producer streams with fsync always, restarts it, and checks that
// every acknowledged message is stored exactly once and in order, and that
// a consumer group resumes from its checkpointed offset.
func TestSIGKILLMidProduceLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped with -short")
	}
	dir := t.TempDir()
	ch := startChild(t, dir)
	c := newClients(ch.addr)
	ctx := context.Background()
	if _, err := c.stations.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "s"}})); err != nil {
		t.Fatal(err)
	}

	// One producer, batches of 50, each acknowledged before the next.
	var mu sync.Mutex
	acked := 0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i += 50 {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := c.messages.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: "s", Messages: values(50, i)}))
			if err != nil {
				return // the broker died
			}
			if resp.Msg.Results[0].Offset != uint64(i) {
				t.Errorf("batch at %d stored at offset %d", i, resp.Msg.Results[0].Offset)
				return
			}
			mu.Lock()
			acked = i + 50
			mu.Unlock()
		}
	}()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return acked >= 2000 })

	// A group consumes and acks the first 700, and its offset is checkpointed.
	var got int
	for got < 700 {
		resp, err := c.messages.Pull(ctx, connect.NewRequest(&v1.PullRequest{Station: "s", Group: "g", MaxMessages: uint32(min(100, 700-got)), MaxWait: durationpb.New(time.Second)}))
		if err != nil {
			t.Fatal(err)
		}
		refs := &v1.MessageRefs{}
		for _, d := range resp.Msg.Messages {
			refs.Offsets = append(refs.Offsets, d.Offset)
		}
		got += len(refs.Offsets)
		if _, err := c.messages.Ack(ctx, connect.NewRequest(&v1.AckRequest{Station: "s", Group: "g", Messages: []*v1.MessageRefs{refs}})); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool {
		resp, err := c.groups.DescribeGroup(ctx, connect.NewRequest(&v1.DescribeGroupRequest{Station: "s", Group: "g"}))
		return err == nil && resp.Msg.Group.Partitions[0].CheckpointedOffset == 700
	})

	mu.Lock()
	before := acked
	mu.Unlock()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return acked >= before+1000 })
	ch.kill(t)
	close(stop)
	<-done
	mu.Lock()
	final := acked
	mu.Unlock()

	ch = startChild(t, dir)
	c = newClients(ch.addr)
	stored := readStation(t, c, "s", "verify")
	if len(stored) < final {
		t.Fatalf("after SIGKILL the station holds %d messages, but %d were acknowledged", len(stored), final)
	}
	if len(stored)%50 != 0 || len(stored) > final+50 {
		t.Fatalf("after SIGKILL the station holds %d messages: not whole batches up to %d+50", len(stored), final)
	}
	for i, v := range stored {
		if v != strconv.Itoa(i) {
			t.Fatalf("message at %d = %q after restart, want %d (duplicate, gap or reorder)", i, v, i)
		}
	}
	resp, err := c.messages.Pull(ctx, connect.NewRequest(&v1.PullRequest{Station: "s", Group: "g", MaxMessages: 1, MaxWait: durationpb.New(time.Second)}))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Msg.Messages) != 1 || resp.Msg.Messages[0].Offset != 700 {
		t.Fatalf("group g resumed at %v, want offset 700", resp.Msg.Messages)
	}
}

// TestTornTailIsTruncatedOnRestart damages the tail of a station's segment
// (a torn write and flipped bytes) and checks that the broker restarts,
// keeps every intact batch, and accepts new messages after them.
func TestTornTailIsTruncatedOnRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped with -short")
	}
	for _, damage := range []string{"truncate", "flip"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			ch := startChild(t, dir)
			c := newClients(ch.addr)
			ctx := context.Background()
			if _, err := c.stations.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "s"}})); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 10; i++ {
				if _, err := c.messages.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: "s", Messages: values(10, i*10)})); err != nil {
					t.Fatal(err)
				}
			}
			ch.kill(t)

			segs, _ := filepath.Glob(filepath.Join(dir, "stations", "s", "0", "*.log"))
			if len(segs) == 0 {
				t.Fatal("no segment files")
			}
			tail := segs[len(segs)-1]
			data, err := os.ReadFile(tail)
			if err != nil {
				t.Fatal(err)
			}
			switch damage {
			case "truncate":
				data = data[:len(data)-7]
			case "flip":
				data[len(data)-3] ^= 0xff
			}
			if err := os.WriteFile(tail, data, 0o644); err != nil {
				t.Fatal(err)
			}

			ch = startChild(t, dir)
			c = newClients(ch.addr)
			resp, err := c.messages.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: "s", Messages: values(10, 90)}))
			if err != nil {
				t.Fatal(err)
			}
			if off := resp.Msg.Results[0].Offset; off != 90 {
				t.Fatalf("first offset after recovery = %d, want 90 (the damaged last batch dropped)", off)
			}
			stored := readStation(t, c, "s", "verify")
			if len(stored) != 100 {
				t.Fatalf("station holds %d messages after recovery, want 100", len(stored))
			}
			for i, v := range stored {
				if v != strconv.Itoa(i) {
					t.Fatalf("message %d = %q, want %d", i, v, i)
				}
			}
		})
	}
}

func TestSecondBrokerOnSameDataDirFails(t *testing.T) {
	dir := t.TempDir()
	s, err := Start(context.Background(), Options{DataDir: dir, Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Start(context.Background(), Options{DataDir: dir, Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)}, nil)
	if err == nil || !strings.Contains(err.Error(), "in use by another broker") || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("second broker: err = %v, want 'in use by another broker' naming our pid", err)
	}
}

func TestAPIErrorsCarryReasons(t *testing.T) {
	_, c := startInProcess(t)
	ctx := context.Background()
	_, err := c.messages.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: "nope", Messages: values(1, 0)}))
	wantReason(t, err, connect.CodeNotFound, v1.ErrorReason_ERROR_REASON_STATION_NOT_FOUND, "")

	_, err = c.stations.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "bad name"}}))
	wantReason(t, err, connect.CodeInvalidArgument, v1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, "name")

	if _, err := c.stations.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "s"}})); err != nil {
		t.Fatal(err)
	}
	_, err = c.stations.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "s"}}))
	wantReason(t, err, connect.CodeAlreadyExists, v1.ErrorReason_ERROR_REASON_STATION_EXISTS, "")

	// A dead-letter station may be named before it exists; one in use is
	// not deleted.
	if _, err := c.stations.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "t", DeadLetterStation: "s"}})); err != nil {
		t.Fatal(err)
	}
	_, err = c.stations.DeleteStation(ctx, connect.NewRequest(&v1.DeleteStationRequest{Name: "s"}))
	wantReason(t, err, connect.CodeFailedPrecondition, v1.ErrorReason_ERROR_REASON_STATION_IN_USE, "")

	big := &v1.Message{Value: make([]byte, 2000)}
	_, err = c.messages.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: "s", Messages: []*v1.Message{{Value: []byte("fine")}, big}}))
	wantReason(t, err, connect.CodeResourceExhausted, v1.ErrorReason_ERROR_REASON_MESSAGE_TOO_LARGE, "")

	_, err = c.messages.Ack(ctx, connect.NewRequest(&v1.AckRequest{Station: "s", Group: "nope"}))
	wantReason(t, err, connect.CodeNotFound, v1.ErrorReason_ERROR_REASON_GROUP_NOT_FOUND, "")

	resp, err := c.stations.GetStation(ctx, connect.NewRequest(&v1.GetStationRequest{Name: "s"}))
	if err != nil || resp.Msg.Stats.Messages != 0 {
		t.Fatalf("station after rejected produce: %v, err %v", resp.Msg.GetStats(), err)
	}
}

func wantReason(t *testing.T, err error, code connect.Code, reason v1.ErrorReason, field string) {
	t.Helper()
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("err = %v, want a connect error", err)
	}
	if cerr.Code() != code {
		t.Errorf("code = %v, want %v (%v)", cerr.Code(), code, err)
	}
	for _, d := range cerr.Details() {
		v, derr := d.Value()
		if info, ok := v.(*v1.ErrorInfo); ok && derr == nil {
			if info.Reason != reason || info.Field != field {
				t.Errorf("error info = %v/%q, want %v/%q (%v)", info.Reason, info.Field, reason, field, err)
			}
			return
		}
	}
	t.Errorf("error %v carries no ErrorInfo", err)
}

func TestProduceStreamPipelined(t *testing.T) {
	_, c := startInProcess(t)
	ctx := context.Background()
	if _, err := c.stations.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "s"}})); err != nil {
		t.Fatal(err)
	}
	stream := c.messages.ProduceStream(ctx)
	for seq := range 20 {
		station := "s"
		if seq == 7 {
			station = "missing"
		}
		if err := stream.Send(&v1.ProduceStreamRequest{Sequence: uint64(seq), Station: station, Messages: values(10, seq*10)}); err != nil {
			t.Fatal(err)
		}
	}
	stream.CloseRequest()
	next := uint64(0)
	for seq := range 20 {
		resp, err := stream.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if resp.Sequence != uint64(seq) {
			t.Fatalf("response %d carries sequence %d", seq, resp.Sequence)
		}
		if seq == 7 {
			if resp.ErrorCode != connect.CodeNotFound.String() || len(resp.Results) != 0 || resp.ErrorInfo.GetReason() != v1.ErrorReason_ERROR_REASON_STATION_NOT_FOUND {
				t.Fatalf("request to a missing station: %+v", resp)
			}
			continue
		}
		if resp.Error != "" || len(resp.Results) != 10 || resp.Results[0].Offset != next {
			t.Fatalf("response %d: %+v, want 10 results from offset %d", seq, resp, next)
		}
		next += 10
	}
	stream.CloseResponse()
}

func TestConnectJSONHealthAndMetrics(t *testing.T) {
	s, _ := startInProcess(t)
	base := "http://" + s.Addr()
	post := func(path, body string) string {
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	post("/junction.v1.StationService/CreateStation", `{"station":{"name":"orders","partitions":2}}`)
	out := post("/junction.v1.MessageService/Produce", `{"station":"orders","messages":[{"value":"aGVsbG8="}]}`)
	if !strings.Contains(out, `"results"`) {
		t.Fatalf("produce over Connect JSON: %s", out)
	}
	out = post("/junction.v1.MessageService/Pull", `{"station":"orders","group":"curl","maxMessages":10,"maxWait":"1s"}`)
	if !strings.Contains(out, `"value":"aGVsbG8="`) {
		t.Fatalf("pull over Connect JSON: %s", out)
	}
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/metrics": `junction_station_messages_in_total{station="orders"} 1`,
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Errorf("GET %s lacks %q:\n%.2000s", path, want, b)
		}
	}
	resp, _ := http.Get(base + "/metrics")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"junction_group_lag_messages{group=\"curl\",station=\"orders\"}", "junction_produce_latency_seconds_bucket", "junction_station_messages_out_total{station=\"orders\"} 1"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSIGKILLBrokerWithSinkConnector kills the broker while a file sink
// connector is writing and producers are producing; after a restart the
// connector resumes from its checkpoint and the files hold every
// acknowledged message exactly once.
func TestSIGKILLBrokerWithSinkConnector(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped with -short")
	}
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "out")
	ch := startChild(t, dir)
	c := newClients(ch.addr)
	ctx := context.Background()
	if _, err := c.stations.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "orders"}})); err != nil {
		t.Fatal(err)
	}
	def := fmt.Sprintf("name: files\nconnector: file\nkind: sink\nstation: orders\nbatch: {max_records: 500, max_wait: 20ms}\nconfig:\n  dir: %s\n  rotate: {max_records: 3000}\n", out)
	if _, err := c.connectors.ApplyConnector(ctx, connect.NewRequest(&v1.ApplyConnectorRequest{FileName: "files.yaml", Definition: []byte(def)})); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acked := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i += 100 {
			if _, err := c.messages.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: "orders", Messages: values(100, i)})); err != nil {
				return
			}
			mu.Lock()
			acked = i + 100
			mu.Unlock()
		}
	}()
	waitFor(t, func() bool {
		resp, err := c.connectors.GetConnector(ctx, connect.NewRequest(&v1.GetConnectorRequest{Name: "files"}))
		return err == nil && resp.Msg.Connector.RecordsOut >= 5000
	})
	ch.kill(t)
	<-done
	mu.Lock()
	final := acked
	mu.Unlock()

	ch = startChild(t, dir)
	c = newClients(ch.addr)
	waitFor(t, func() bool {
		resp, err := c.connectors.GetConnector(ctx, connect.NewRequest(&v1.GetConnectorRequest{Name: "files"}))
		if err != nil || resp.Msg.Connector.State != v1.ConnectorState_CONNECTOR_STATE_RUNNING {
			return false
		}
		st, err := c.stations.GetStation(ctx, connect.NewRequest(&v1.GetStationRequest{Name: "orders"}))
		return err == nil && resp.Msg.Connector.Lag == 0 && st.Msg.Stats.Messages >= uint64(final)
	})
	st, _ := c.stations.GetStation(ctx, connect.NewRequest(&v1.GetStationRequest{Name: "orders"}))
	stored := int(st.Msg.Stats.Messages)
	if stored < final {
		t.Fatalf("station holds %d messages, %d were acknowledged", stored, final)
	}
	seen := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(out, "*.jsonl*"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var rec struct {
				Value json.RawMessage `json:"value"`
			}
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			seen[string(rec.Value)]++
		}
	}
	for i := range stored {
		if n := seen[strconv.Itoa(i)]; n != 1 {
			t.Fatalf("message %d is in the sink's files %d times (station holds %d, %d acknowledged)", i, n, stored, final)
		}
	}
	if len(seen) != stored {
		t.Fatalf("the sink's files hold %d distinct messages, the station %d", len(seen), stored)
	}
}

// TestSIGKILLBrokerWithSourceConnector kills the broker while a file
// source is producing; after a restart the source resumes from its
// checkpoint, and the records of the batch produced but not yet
// checkpointed when the broker died are recognised by their ids: every
// line is in the station exactly once.
func TestSIGKILLBrokerWithSourceConnector(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped with -short")
	}
	dir := t.TempDir()
	in := filepath.Join(t.TempDir(), "in.txt")
	var sb strings.Builder
	const n, batch = 200000, 500
	for i := range n {
		fmt.Fprintf(&sb, "%d\n", i)
	}
	if err := os.WriteFile(in, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ch := startChild(t, dir)
	c := newClients(ch.addr)
	ctx := context.Background()
	if _, err := c.stations.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "lines"}})); err != nil {
		t.Fatal(err)
	}
	def := fmt.Sprintf("name: lines-in\nconnector: file\nkind: source\nstation: lines\nconfig:\n  glob: %s\n  format: lines\n  poll_interval: 10ms\n  batch: {max_records: %d}\n", in, batch)
	if _, err := c.connectors.ApplyConnector(ctx, connect.NewRequest(&v1.ApplyConnectorRequest{FileName: "src.yaml", Definition: []byte(def)})); err != nil {
		t.Fatal(err)
	}
	messages := func() uint64 {
		st, err := c.stations.GetStation(ctx, connect.NewRequest(&v1.GetStationRequest{Name: "lines"}))
		if err != nil {
			return 0
		}
		return st.Msg.Stats.Messages
	}
	waitFor(t, func() bool { return messages() >= 2000 })
	ch.kill(t)

	ch = startChild(t, dir)
	c = newClients(ch.addr)
	if before := messages(); before >= n {
		t.Fatalf("the source finished (%d messages) before the broker was killed; the test proves nothing", before)
	}
	waitFor(t, func() bool { return messages() >= n })
	stored := readStation(t, c, "lines", "verify")
	seen := make(map[string]int, n)
	for _, v := range stored {
		seen[v]++
	}
	dups := len(stored) - len(seen)
	for i := range n {
		if seen[strconv.Itoa(i)] == 0 {
			t.Fatalf("line %d was lost (station holds %d messages)", i, len(stored))
		}
	}
	if len(seen) != n || dups != 0 {
		t.Fatalf("station holds %d distinct lines (want %d) and %d duplicates (want none)", len(seen), n, dups)
	}
}
