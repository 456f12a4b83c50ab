package clustertest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Ports for junction processes. A port the test picked by binding
// 127.0.0.1:0 and closing it again is an ephemeral port: until the
// process binds it, the kernel may hand it to any outgoing connection
// (the nodes' own among them) or to another listener asking for :0, and a
// node restarted later finds it taken ("address already in use"). So the
// harness takes ports from below the kernel's ephemeral range, which the
// kernel never hands out by itself, and reserves each, for the whole
// test, against other test processes on the machine by an flock on a
// file named after it (released by the kernel if the process dies).

// portsBelow is how many ports below the ephemeral range are candidates.
const portsBelow = 12000

// freePorts returns n distinct ports on 127.0.0.1 that nothing listens
// on and that stay reserved to this test until it ends.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	lo := ephemeralLow()
	if lo <= 1024+portsBelow {
		t.Fatalf("the ephemeral port range starts at %d, leaving no room below it for test ports", lo)
	}
	dir := filepath.Join(os.TempDir(), "junction-clustertest-ports")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := make([]int, 0, n)
	base, skip := lo-portsBelow, rand.IntN(portsBelow)
	for i := 0; i < portsBelow && len(out) < n; i++ {
		port := base + (skip+i)%portsBelow
		if f := reservePort(dir, port); f != nil {
			t.Cleanup(func() { f.Close() })
			out = append(out, port)
		}
	}
	if len(out) < n {
		t.Fatalf("found %d free ports below %d, want %d", len(out), lo, n)
	}
	return out
}

// reservePort locks port's file in dir and checks that the port can be
// bound now; it returns the locked file, or nil when another test holds
// the port or something listens on it.
func reservePort(dir string, port int) *os.File {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		f.Close()
		return nil
	}
	ln.Close()
	return f
}

// ephemeralLow returns the first port of the kernel's ephemeral range
// (Linux's default when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return lo
}
