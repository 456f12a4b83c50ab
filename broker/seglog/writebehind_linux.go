package seglog

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/junctionhq/junction/broker/vfs"
)

// fileRangeWriteback is rangeWriteback on Linux: sync_file_range(2) on the
// file's descriptor.
func fileRangeWriteback(f vfs.File, off, n int64, wait bool) error {
	sc, ok := f.(syscall.Conn)
	if !ok {
		return errNoWriteBehind
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return errNoWriteBehind
	}
	flags := unix.SYNC_FILE_RANGE_WRITE
	if wait {
		flags |= unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.SyncFileRange(int(fd), off, n, flags) }); err != nil {
		return errNoWriteBehind
	}
	if errors.Is(serr, unix.ENOSYS) || errors.Is(serr, unix.EINVAL) || errors.Is(serr, unix.EOPNOTSUPP) || errors.Is(serr, unix.ESPIPE) {
		return errNoWriteBehind
	}
	return serr
}
