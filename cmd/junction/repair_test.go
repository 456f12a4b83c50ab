package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionhq/junction/broker/seglog"
	"github.com/junctionhq/junction/server"
)

// startBrokerIn runs a real broker on dir and returns its address and a
// func that stops it.
func startBrokerIn(t *testing.T, dir string) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(context.Background(), server.Options{
		DataDir: dir,
		Listen:  ln.Addr().String(),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, ln)
	if err != nil {
		ln.Close()
		t.Fatalf("server.Start: %v", err)
	}
	return ln.Addr().String(), func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestCLIStationRepair(t *testing.T) {
	dir := t.TempDir()
	addr, stop := startBrokerIn(t, dir)
	cli(t, addr, "", "station", "create", "orders")
	for _, m := range []string{"a", "b", "c", "d"} {
		cli(t, addr, "", "produce", "orders", m)
	}
	stop()

	seg := filepath.Join(dir, "stations", "orders", "0", "00000000000000000000.log")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	_, n, err := seglog.DecodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	b[n+n/2] ^= 0x10 // the second of four batches
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}

	addr, stop = startBrokerIn(t, dir)
	defer stop()
	out, _ := cli(t, addr, "", "station", "describe", "orders")
	if !strings.Contains(out, "CORRUPT DATA") || !strings.Contains(out, "00000000000000000000.log") {
		t.Fatalf("describe does not report the damage:\n%s", out)
	}
	if _, errs, code := runCLI(t, "", "--server", addr, "station", "repair", "orders", "--partition", "0"); code == 0 || !strings.Contains(errs, "--skip") {
		t.Fatalf("repair without a mode: exit %d, %s", code, errs)
	}
	out, _ = cli(t, addr, "", "station", "repair", "orders", "--partition", "0", "--skip")
	if !strings.Contains(out, "1 offsets lost") || !strings.Contains(out, "broker's log") {
		t.Fatalf("repair output:\n%s", out)
	}
	out, _ = cli(t, addr, "", "station", "describe", "orders")
	if strings.Contains(out, "CORRUPT DATA") || !strings.Contains(out, "LOST OFFSETS") {
		t.Fatalf("describe after repair:\n%s", out)
	}
	out, _ = cli(t, addr, "", "consume", "orders", "--group", "g", "--count", "3")
	if strings.Join(strings.Fields(out), ",") != "a,c,d" {
		t.Fatalf("consumed %q, want a, c and d", out)
	}
}
