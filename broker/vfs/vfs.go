// Package vfs is the small filesystem interface under the station log.
//
// The log talks to storage only through [FS] and [File], so the same code runs
// on the real filesystem ([OS]), entirely in memory ([NewMem], which backs the
// "memory" storage type), or with injected faults ([NewErrorFS]) so tests can
// exercise fsync errors, torn writes and full disks without root.
package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
)

// File is an open file. ReadAt may be called concurrently with Write and with
// other ReadAt calls; the other methods are not safe for concurrent use.
type File interface {
	io.ReaderAt
	io.Writer
	io.Closer
	// Sync commits the file's contents to stable storage.
	Sync() error
	// Truncate changes the size of the file. It does not move the write
	// position of a file opened without os.O_APPEND.
	Truncate(size int64) error
	// Stat returns the file's current metadata.
	Stat() (fs.FileInfo, error)
}

// FS is a filesystem. Implementations are safe for concurrent use. Names use
// the host's path separator; errors satisfy errors.Is(err, fs.ErrNotExist) and
// friends like the os package's.
type FS interface {
	// OpenFile opens name with os.OpenFile's flag and perm semantics.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// Remove removes a file or an empty directory. Open handles of a removed
	// file stay readable until closed, as on Unix.
	Remove(name string) error
	// Rename atomically replaces newpath with oldpath.
	Rename(oldpath, newpath string) error
	// MkdirAll creates path and any missing parents.
	MkdirAll(path string, perm fs.FileMode) error
	// ReadDir returns the entries of a directory sorted by name.
	ReadDir(name string) ([]fs.DirEntry, error)
	// Stat returns metadata for name.
	Stat(name string) (fs.FileInfo, error)
	// RemoveAll removes path and everything below it; a missing path is not
	// an error.
	RemoveAll(path string) error
}

// DirSyncer is implemented by filesystems that can make directory entries
// (created, renamed or removed files) durable. Use [SyncDir] rather than
// asserting it directly.
type DirSyncer interface {
	// SyncDir fsyncs the directory dir.
	SyncDir(dir string) error
}

// SyncDir makes the entries of dir durable if fsys supports it (see
// [DirSyncer]) and is a no-op otherwise.
func SyncDir(fsys FS, dir string) error {
	if ds, ok := fsys.(DirSyncer); ok {
		return ds.SyncDir(dir)
	}
	return nil
}

// OS is the host filesystem, backed by package os.
var OS FS = osFS{}

type osFS struct{}

var _ DirSyncer = osFS{}

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		// Avoid returning a typed nil *os.File inside the interface.
		return nil, err
	}
	return f, nil
}

func (osFS) Remove(name string) error                     { return os.Remove(name) }
func (osFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (osFS) MkdirAll(path string, perm fs.FileMode) error { return os.MkdirAll(path, perm) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error)   { return os.ReadDir(name) }
func (osFS) Stat(name string) (fs.FileInfo, error)        { return os.Stat(name) }
func (osFS) RemoveAll(path string) error                  { return os.RemoveAll(path) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	return errors.Join(serr, d.Close())
}
