package readmetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestREADMERunsAsWritten builds bin/junction and the file connector into
// a scratch directory, starts the broker there as 'make run' would, and
// runs every sh block of README.md in order in one bash, stopping at the
// first command that fails.
func TestREADMERunsAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("builds junction and runs the README")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	home := filepath.Join(work, "home")
	os.MkdirAll(home, 0o700)
	for out, pkg := range map[string]string{"bin/junction": "./cmd/junction", "bin/plugins/file": "./connectors/file"} {
		build := exec.Command("go", "build", "-o", filepath.Join(work, out), pkg)
		build.Dir = root
		if b, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
	}

	addr := startBroker(t, work, home)

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	ran := 0
	for _, b := range Blocks(string(readme)) {
		if b.Skip != "" {
			t.Logf("README.md:%d: skipped: %s", b.Line, b.Skip)
			continue
		}
		ran++
		fmt.Fprintf(&script, "echo '--- README.md:%d' >&2\n%s", b.Line, b.Body)
	}
	if ran == 0 {
		t.Fatal("README.md has no sh block to run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sh := exec.CommandContext(ctx, "bash", "-c", script.String())
	sh.Dir = work
	sh.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "JUNCTION_SERVER=" + addr, "LANG=C.UTF-8"}
	var stdout, stderr bytes.Buffer
	sh.Stdout, sh.Stderr = &stdout, &stderr
	if err := sh.Run(); err != nil {
		errs := stderr.String()
		block := "?"
		if i := strings.LastIndex(errs, "--- README.md:"); i >= 0 {
			block = strings.Fields(errs[i+4:])[0]
		}
		t.Fatalf("the README does not run as written: the block at %s failed: %v\nstderr:\n%s\nstdout (last 2000 bytes):\n%s", block, err, tail(errs, 4000), tail(stdout.String(), 2000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// startBroker runs work/bin/junction server in work, with its data under
// work/data like 'make run', on a free loopback port.
func startBroker(t *testing.T, work, home string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs lockedBuffer
	srv := exec.Command(filepath.Join(work, "bin", "junction"), "server", "--data", "./data", "--listen", addr)
	srv.Dir = work
	srv.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() {
		srv.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			srv.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("broker log:\n%s", tail(logs.String(), 4000))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("the broker exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broker did not answer /healthz at %s\n%s", addr, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockedBuffer is a bytes.Buffer a process writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
