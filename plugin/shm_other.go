//go:build !linux

package plugin

import (
	"errors"
	"os"
)

// sharedMemory is a region of memory the host shares with one plugin
// process; only on Linux.
type sharedMemory struct {
	file *os.File
	mem  []byte
}

func newSharedMemory(int) (*sharedMemory, error) {
	return nil, errors.New("shared memory: not supported on this platform")
}

func (*sharedMemory) passed() {}
func (*sharedMemory) close()  {}
