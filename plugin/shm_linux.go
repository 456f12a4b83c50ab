package plugin

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// sharedMemory is a region of memory the host shares with one plugin
// process: an anonymous memory file, mapped writable here and passed to
// the plugin, which can only map it read-only, and neither side can
// resize. It holds only the record batches the host writes to that
// plugin.
type sharedMemory struct {
	file *os.File // nil once passed on
	mem  []byte
}

// newSharedMemory creates a shared memory region of size bytes.
func newSharedMemory(size int) (*sharedMemory, error) {
	fd, err := unix.MemfdCreate("junction-sink-batches", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("shared memory: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "junction-sink-batches")
	fail := func(what string, err error) (*sharedMemory, error) {
		f.Close()
		return nil, fmt.Errorf("shared memory: %s: %w", what, err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return fail("size", err)
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fail("map", err)
	}
	// A plugin that shrank the file would make the host's next write to
	// the mapping fault; one that wrote to it would change batches on
	// their way to itself only, but it need not.
	seals := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_FUTURE_WRITE | unix.F_SEAL_SEAL
	_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals)
	if err == unix.EINVAL { // a kernel before 5.1, without F_SEAL_FUTURE_WRITE
		_, err = unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals&^unix.F_SEAL_FUTURE_WRITE)
	}
	if err != nil {
		unix.Munmap(mem)
		return fail("seal", err)
	}
	return &sharedMemory{file: f, mem: mem}, nil
}

// passed closes the host's descriptor once the plugin process holds its
// own.
func (s *sharedMemory) passed() {
	if s != nil && s.file != nil {
		s.file.Close()
		s.file = nil
	}
}

// close unmaps the region; nothing may touch it afterwards.
func (s *sharedMemory) close() {
	if s == nil {
		return
	}
	s.passed()
	if s.mem != nil {
		unix.Munmap(s.mem)
		s.mem = nil
	}
}
