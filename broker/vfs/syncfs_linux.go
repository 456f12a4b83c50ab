package vfs

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

var _ FSSyncer = osFS{}

// SyncFS calls syncfs(2) once for each filesystem holding one of dirs.
// Since Linux 5.8 it reports write-back errors of any file of the
// filesystem, as fsync does for one file.
func (osFS) SyncFS(dirs []string) error {
	seen := make(map[uint64]bool)
	for _, dir := range dirs {
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			return &os.PathError{Op: "stat", Path: dir, Err: err}
		}
		if seen[uint64(st.Dev)] {
			continue
		}
		seen[uint64(st.Dev)] = true
		d, err := os.Open(dir)
		if err != nil {
			return err
		}
		err = unix.Syncfs(int(d.Fd()))
		if err = errors.Join(err, d.Close()); err != nil {
			return fmt.Errorf("syncfs %s: %w", dir, err)
		}
	}
	return nil
}
