package vfs

import (
	"errors"
	"fmt"
	"io/fs"
	"sync/atomic"
)

// OpKind names a filesystem operation that an [Injector] may fail.
type OpKind int

// The operations an [ErrorFS] consults its [Injector] about.
const (
	OpOpen OpKind = iota
	OpRead
	OpWrite
	OpSync
	OpTruncate
	OpFileStat
	OpClose
	OpRemove
	OpRename
	OpMkdirAll
	OpReadDir
	OpStat
	OpRemoveAll
	OpSyncDir
)

var opNames = [...]string{"open", "read", "write", "sync", "truncate", "filestat", "close",
	"remove", "rename", "mkdirall", "readdir", "stat", "removeall", "syncdir"}

// String returns the operation's lower-case name, such as "sync".
func (k OpKind) String() string {
	if k >= 0 && int(k) < len(opNames) {
		return opNames[k]
	}
	return fmt.Sprintf("OpKind(%d)", int(k))
}

// Op describes one operation about to be performed.
type Op struct {
	Kind OpKind
	// Path is the file or directory operated on (for OpRename, the old path).
	Path string
	// Size is the length of the buffer for OpWrite and OpRead, else 0.
	Size int
}

// Injector decides whether an operation fails. MaybeError is called before
// the operation reaches the inner filesystem; a nil result lets it through.
// For OpWrite, returning a [*ShortWriteError] writes a prefix first. It may be
// called concurrently.
type Injector interface {
	MaybeError(op Op) error
}

// InjectorFunc adapts a function to [Injector].
type InjectorFunc func(op Op) error

// MaybeError calls f(op).
func (f InjectorFunc) MaybeError(op Op) error { return f(op) }

// ErrInjected is the default error produced by the injectors in this package.
var ErrInjected = errors.New("vfs: injected error")

// ShortWriteError, returned by an [Injector] for an OpWrite, makes the write
// store its first N bytes (a torn write) and then fail with Err.
type ShortWriteError struct {
	N   int
	Err error
}

// ShortWrite returns a [*ShortWriteError] that keeps n bytes and fails with err
// (ErrInjected if err is nil).
func ShortWrite(n int, err error) error {
	if err == nil {
		err = ErrInjected
	}
	return &ShortWriteError{N: n, Err: err}
}

func (e *ShortWriteError) Error() string {
	return fmt.Sprintf("short write of %d bytes: %v", e.N, e.Err)
}

func (e *ShortWriteError) Unwrap() error { return e.Err }

// FailNth returns an injector that fails only the nth (1-based) operation of
// kind with err (ErrInjected if nil); err may be a [*ShortWriteError].
func FailNth(kind OpKind, n int64, err error) Injector {
	if err == nil {
		err = ErrInjected
	}
	var count atomic.Int64
	return InjectorFunc(func(op Op) error {
		if op.Kind == kind && count.Add(1) == n {
			return err
		}
		return nil
	})
}

// NewErrorFS wraps inner so that every operation, on the filesystem and on
// the files it opens, is first offered to inj, which may fail it.
func NewErrorFS(inner FS, inj Injector) FS {
	return &errorFS{inner: inner, inj: inj}
}

type errorFS struct {
	inner FS
	inj   Injector
}

var _ DirSyncer = (*errorFS)(nil)

func (e *errorFS) check(kind OpKind, path string) error {
	if err := e.inj.MaybeError(Op{Kind: kind, Path: path}); err != nil {
		return &fs.PathError{Op: kind.String(), Path: path, Err: err}
	}
	return nil
}

func (e *errorFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	if err := e.check(OpOpen, name); err != nil {
		return nil, err
	}
	f, err := e.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &errorFile{File: f, fs: e, name: name}, nil
}

func (e *errorFS) Remove(name string) error {
	if err := e.check(OpRemove, name); err != nil {
		return err
	}
	return e.inner.Remove(name)
}

func (e *errorFS) Rename(oldpath, newpath string) error {
	if err := e.check(OpRename, oldpath); err != nil {
		return err
	}
	return e.inner.Rename(oldpath, newpath)
}

func (e *errorFS) MkdirAll(path string, perm fs.FileMode) error {
	if err := e.check(OpMkdirAll, path); err != nil {
		return err
	}
	return e.inner.MkdirAll(path, perm)
}

func (e *errorFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := e.check(OpReadDir, name); err != nil {
		return nil, err
	}
	return e.inner.ReadDir(name)
}

func (e *errorFS) Stat(name string) (fs.FileInfo, error) {
	if err := e.check(OpStat, name); err != nil {
		return nil, err
	}
	return e.inner.Stat(name)
}

func (e *errorFS) RemoveAll(path string) error {
	if err := e.check(OpRemoveAll, path); err != nil {
		return err
	}
	return e.inner.RemoveAll(path)
}

func (e *errorFS) SyncDir(dir string) error {
	if err := e.check(OpSyncDir, dir); err != nil {
		return err
	}
	return SyncDir(e.inner, dir)
}

type errorFile struct {
	File
	fs   *errorFS
	name string
}

func (f *errorFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.inj.MaybeError(Op{Kind: OpRead, Path: f.name, Size: len(p)}); err != nil {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
	}
	return f.File.ReadAt(p, off)
}

func (f *errorFile) Write(p []byte) (int, error) {
	err := f.fs.inj.MaybeError(Op{Kind: OpWrite, Path: f.name, Size: len(p)})
	if err == nil {
		return f.File.Write(p)
	}
	var sw *ShortWriteError
	if errors.As(err, &sw) {
		n, werr := f.File.Write(p[:min(max(sw.N, 0), len(p))])
		if werr != nil {
			return n, werr
		}
		return n, &fs.PathError{Op: "write", Path: f.name, Err: sw.Err}
	}
	return 0, &fs.PathError{Op: "write", Path: f.name, Err: err}
}

func (f *errorFile) Close() error {
	if err := f.fs.check(OpClose, f.name); err != nil {
		// Release the inner handle anyway; the injected error is what the
		// caller sees.
		_ = f.File.Close()
		return err
	}
	return f.File.Close()
}

func (f *errorFile) Sync() error {
	if err := f.fs.check(OpSync, f.name); err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *errorFile) Truncate(size int64) error {
	if err := f.fs.check(OpTruncate, f.name); err != nil {
		return err
	}
	return f.File.Truncate(size)
}

func (f *errorFile) Stat() (fs.FileInfo, error) {
	if err := f.fs.check(OpFileStat, f.name); err != nil {
		return nil, err
	}
	return f.File.Stat()
}
