package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

func startWith(t *testing.T, o Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.DataDir = t.TempDir()
	o.Logger = slog.New(slog.DiscardHandler)
	s, err := Start(context.Background(), o, ln)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

const produceURL = "/junction.v1.MessageService/Produce"

// A small gzip body that inflates to 256 MiB is cut off at the request
// limit: it costs the server about that limit, not the bomb's size.
func TestGzipBombIsCutAtTheRequestLimit(t *testing.T) {
	s := startWith(t, Options{MaxMessageBytes: 1 << 20}) // requests up to 3 MiB
	// A gzip stream may hold many members: one compressed MiB of zeros,
	// 256 times, inflates to 256 MiB.
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	bomb := bytes.NewBuffer(bytes.Repeat(member.Bytes(), 256))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// MessageService takes no gzip; the other services do.
	req, _ := http.NewRequest("POST", "http://"+s.Addr()+"/junction.v1.StationService/CreateStation", bytes.NewReader(bomb.Bytes()))
	req.Header.Set("Content-Type", "application/proto")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	if resp.StatusCode != http.StatusTooManyRequests { // Connect's resource_exhausted
		t.Fatalf("a 256 MiB gzip bomb: status %d, want 429", resp.StatusCode)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 48<<20 {
		t.Fatalf("the server allocated %d MiB for a bomb it should cut at 3 MiB", alloc>>20)
	}
}

func TestOversizeBodyIsRefusedBeforeReading(t *testing.T) {
	s := startWith(t, Options{MaxMessageBytes: 1 << 10})
	body := strings.NewReader(strings.Repeat("x", 4<<20))
	resp, err := http.Post("http://"+s.Addr()+produceURL, "application/proto", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
}

func inFlight(t *testing.T, addr string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "junction_request_bytes_in_flight "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	t.Fatal("junction_request_bytes_in_flight missing from /metrics")
	return 0
}

// Request bodies held at once are bounded server-wide: a request that would
// overrun the budget is refused with 429 and succeeds once room is back.
func TestRequestBytesInFlightAreBounded(t *testing.T) {
	s := startWith(t, Options{MaxMessageBytes: 64 << 10, MaxInFlightBytes: 2 << 20}) // requests up to 1.125 MiB
	pr, pw := io.Pipe()
	first := make(chan struct{})
	go func() {
		defer close(first)
		req, _ := http.NewRequest("POST", "http://"+s.Addr()+produceURL, pr)
		req.Header.Set("Content-Type", "application/proto")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	go pw.Write(make([]byte, 1<<20)) // a slow sender: 1 MiB, then nothing
	deadline := time.Now().Add(10 * time.Second)
	for inFlight(t, s.Addr()) < 1<<20 {
		if time.Now().After(deadline) {
			t.Fatal("the first request's bytes never showed as in flight")
		}
		time.Sleep(5 * time.Millisecond)
	}

	msg, _ := proto.Marshal(&v1.ProduceRequest{Station: "s", Messages: []*v1.Message{{Value: make([]byte, 60<<10)}}})
	msg = append(msg, make([]byte, 1100<<10-len(msg))...) // padded: 1.07 MiB, within the request limit
	post := func() int {
		resp, err := http.Post("http://"+s.Addr()+produceURL, "application/proto", bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(); code != http.StatusTooManyRequests {
		t.Fatalf("a request past the in-flight budget: status %d, want 429", code)
	}
	pw.CloseWithError(io.ErrUnexpectedEOF)
	<-first
	// The client may see the response before the handler has returned and
	// released its charge: wait for the release, with a deadline.
	for deadline := time.Now().Add(10 * time.Second); inFlight(t, s.Addr()) != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("bytes stay charged after the request ended")
		}
	}
	if code := post(); code == http.StatusTooManyRequests {
		t.Fatal("still refused after the budget was free again")
	}
}

// Idle keep-alive and h2c connections are closed, not held forever.
func TestIdleConnectionsAreClosed(t *testing.T) {
	s := startWith(t, Options{IdleTimeout: 200 * time.Millisecond})
	waitClosed := func(what string, c net.Conn) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("%s connection not closed by the server: %v", what, err)
		}
	}
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	waitClosed("HTTP/1.1 keep-alive", c)

	h2, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	io.WriteString(h2, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	h2.Write([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0}) // an empty SETTINGS frame
	waitClosed("h2c", h2)
}

// An open broker refuses requests addressed to a name that is not a
// loopback one, as a web page reaching it through DNS rebinding sends.
func TestOpenBrokerRefusesNonLoopbackHosts(t *testing.T) {
	s := startWith(t, Options{})
	get := func(host string) int {
		req, _ := http.NewRequest("GET", "http://"+s.Addr()+"/healthz", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, h := range []string{"localhost:7400", "127.0.0.1", "[::1]:7400", "LOCALHOST"} {
		if code := get(h); code != http.StatusOK {
			t.Errorf("Host %s: status %d, want 200", h, code)
		}
	}
	for _, h := range []string{"attacker.example:7400", "10.0.0.1:7400", "localhost.attacker.example"} {
		if code := get(h); code != http.StatusMisdirectedRequest {
			t.Errorf("Host %s: status %d, want 421", h, code)
		}
	}
}
