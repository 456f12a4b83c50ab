package connector

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/junctionhq/junction/sdk/protocol"
)

// The plugin maps the region the host passed, and leaves neither the
// descriptor nor the variable to the connector.
func TestMapSharedMemory(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "region"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("record batches")); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(protocol.EnvSharedMemoryFD, strconv.Itoa(fd))
	mem, err := mapSharedMemory()
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	if string(mem) != "record batches" {
		t.Fatalf("mapped %q", mem)
	}
	if _, ok := os.LookupEnv(protocol.EnvSharedMemoryFD); ok {
		t.Error("the variable is still set")
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err == nil {
		t.Error("the descriptor is still open")
	}

	os.Unsetenv(protocol.EnvSharedMemoryFD)
	if mem, err := mapSharedMemory(); mem != nil || err != nil {
		t.Fatalf("without the variable: %d bytes, %v", len(mem), err)
	}
	dir, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	dirFD, err := syscall.Dup(int(dir.Fd())) // mapSharedMemory closes it
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"x", "1", "-5", strconv.Itoa(dirFD)} {
		t.Setenv(protocol.EnvSharedMemoryFD, v)
		if mem, err := mapSharedMemory(); mem != nil || err == nil {
			t.Errorf("%s=%s: %d bytes, %v; want an error", protocol.EnvSharedMemoryFD, v, len(mem), err)
		}
	}
}
