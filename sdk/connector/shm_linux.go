package connector

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/junctionhq/junction/sdk/protocol"
)

// mapSharedMemory maps, read-only, the shared memory region the host passed
// the plugin for record batches, if it passed one, and closes its file
// descriptor and removes protocol.EnvSharedMemoryFD, so the connector and
// any process it starts see neither. It returns nil when the host passed
// none; the error says why a region passed could not be used (the sink
// then takes its records over gRPC).
func mapSharedMemory() ([]byte, error) {
	v, ok := os.LookupEnv(protocol.EnvSharedMemoryFD)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(protocol.EnvSharedMemoryFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("shared memory: %s=%q is not a file descriptor the host passed", protocol.EnvSharedMemoryFD, v)
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("shared memory: stat fd %d: %w", fd, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Size <= 0 || st.Size > protocol.MaxSharedMemoryBytes {
		return nil, fmt.Errorf("shared memory: fd %d is not a regular file of 1 to %d bytes (mode %o, %d bytes)", fd, protocol.MaxSharedMemoryBytes, st.Mode, st.Size)
	}
	mem, err := syscall.Mmap(fd, 0, int(st.Size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shared memory: map fd %d: %w", fd, err)
	}
	return mem, nil
}
