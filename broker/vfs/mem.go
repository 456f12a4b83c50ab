package vfs

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	errIsDir    error = syscall.EISDIR
	errNotDir   error = syscall.ENOTDIR
	errNotEmpty error = syscall.ENOTEMPTY
)

// NewMem returns an empty in-memory filesystem that is safe for concurrent
// use. Nothing is lost on "crash" because nothing is ever durable: Sync is a
// no-op. The root directory "/" (and ".") always exists; relative and absolute
// names are cleaned with filepath.Clean.
func NewMem() FS {
	return &memFS{nodes: map[string]*memNode{}}
}

type memFS struct {
	mu    sync.Mutex
	nodes map[string]*memNode // cleaned path -> node; the root is implicit
}

type memNode struct {
	isDir bool
	perm  fs.FileMode

	mu      sync.RWMutex // guards data and modTime
	data    []byte
	modTime time.Time
}

func memClean(name string) string {
	return filepath.Clean(name)
}

func isRoot(name string) bool { return name == "/" || name == "." }

// lookupLocked returns the node for a cleaned name; m.mu must be held.
func (m *memFS) lookupLocked(name string) (*memNode, bool) {
	if isRoot(name) {
		return &memNode{isDir: true, perm: 0o755}, true
	}
	n, ok := m.nodes[name]
	return n, ok
}

func (m *memFS) parentIsDirLocked(name string) bool {
	n, ok := m.lookupLocked(filepath.Dir(name))
	return ok && n.isDir
}

func (m *memFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	name = memClean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.lookupLocked(name)
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case ok && n.isDir:
		if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			return nil, &fs.PathError{Op: "open", Path: name, Err: errIsDir}
		}
	case !ok && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case !ok:
		if !m.parentIsDirLocked(name) {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		n = &memNode{perm: perm.Perm(), modTime: time.Now()}
		m.nodes[name] = n
	}
	if flag&os.O_TRUNC != 0 && !n.isDir {
		n.mu.Lock()
		n.data = nil
		n.modTime = time.Now()
		n.mu.Unlock()
	}
	return &memFile{name: name, node: n, flag: flag}, nil
}

func (m *memFS) Remove(name string) error {
	name = memClean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.lookupLocked(name)
	if !ok || isRoot(name) {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if n.isDir {
		prefix := name + string(filepath.Separator)
		for p := range m.nodes {
			if strings.HasPrefix(p, prefix) {
				return &fs.PathError{Op: "remove", Path: name, Err: errNotEmpty}
			}
		}
	}
	delete(m.nodes, name)
	return nil
}

func (m *memFS) Rename(oldpath, newpath string) error {
	oldpath, newpath = memClean(oldpath), memClean(newpath)
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.lookupLocked(oldpath)
	if !ok || isRoot(oldpath) {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	if !m.parentIsDirLocked(newpath) {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	if dst, ok := m.nodes[newpath]; ok && dst.isDir != n.isDir {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrExist}
	}
	delete(m.nodes, oldpath)
	m.nodes[newpath] = n
	if n.isDir {
		prefix := oldpath + string(filepath.Separator)
		for p, c := range m.nodes {
			if strings.HasPrefix(p, prefix) {
				delete(m.nodes, p)
				m.nodes[newpath+string(filepath.Separator)+p[len(prefix):]] = c
			}
		}
	}
	return nil
}

func (m *memFS) MkdirAll(path string, perm fs.FileMode) error {
	path = memClean(path)
	m.mu.Lock()
	defer m.mu.Unlock()
	var missing []string
	for p := path; !isRoot(p); p = filepath.Dir(p) {
		n, ok := m.nodes[p]
		if ok {
			if !n.isDir {
				return &fs.PathError{Op: "mkdir", Path: p, Err: errNotDir}
			}
			break
		}
		missing = append(missing, p)
	}
	for _, p := range missing {
		m.nodes[p] = &memNode{isDir: true, perm: perm.Perm(), modTime: time.Now()}
	}
	return nil
}

func (m *memFS) ReadDir(name string) ([]fs.DirEntry, error) {
	name = memClean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.lookupLocked(name)
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	if !n.isDir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	var out []fs.DirEntry
	for p, c := range m.nodes {
		if isRoot(p) || filepath.Dir(p) != name {
			continue
		}
		out = append(out, fs.FileInfoToDirEntry(c.info(filepath.Base(p))))
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

func (m *memFS) Stat(name string) (fs.FileInfo, error) {
	name = memClean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.lookupLocked(name)
	if !ok {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return n.info(filepath.Base(name)), nil
}

func (m *memFS) RemoveAll(path string) error {
	path = memClean(path)
	m.mu.Lock()
	defer m.mu.Unlock()
	prefix := path + string(filepath.Separator)
	if isRoot(path) {
		prefix = ""
	}
	for p := range m.nodes {
		if p == path || strings.HasPrefix(p, prefix) {
			delete(m.nodes, p)
		}
	}
	return nil
}

func (n *memNode) info(name string) fs.FileInfo {
	n.mu.RLock()
	defer n.mu.RUnlock()
	mode := n.perm
	if n.isDir {
		mode |= fs.ModeDir
	}
	return &memInfo{name: name, size: int64(len(n.data)), mode: mode, modTime: n.modTime}
}

type memFile struct {
	name string
	node *memNode
	flag int
	pos  int64 // write position for files opened without O_APPEND

	mu     sync.Mutex // guards closed
	closed bool
}

func (f *memFile) checkOpen(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrClosed}
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.checkOpen("read"); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrInvalid}
	}
	f.node.mu.RLock()
	defer f.node.mu.RUnlock()
	if off >= int64(len(f.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.node.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	if err := f.checkOpen("write"); err != nil {
		return 0, err
	}
	if f.flag&(os.O_WRONLY|os.O_RDWR) == 0 || f.node.isDir {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: fs.ErrPermission}
	}
	n := f.node
	n.mu.Lock()
	defer n.mu.Unlock()
	if f.flag&os.O_APPEND != 0 {
		f.pos = int64(len(n.data))
	}
	if end := f.pos + int64(len(p)); end > int64(len(n.data)) {
		if end > int64(cap(n.data)) {
			grown := make([]byte, len(n.data), max(end, 2*int64(cap(n.data))))
			copy(grown, n.data)
			n.data = grown
		}
		n.data = n.data[:end]
	}
	copy(n.data[f.pos:], p)
	f.pos += int64(len(p))
	n.modTime = time.Now()
	return len(p), nil
}

func (f *memFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	f.closed = true
	return nil
}

func (f *memFile) Sync() error { return f.checkOpen("sync") }

func (f *memFile) Truncate(size int64) error {
	if err := f.checkOpen("truncate"); err != nil {
		return err
	}
	if size < 0 || f.node.isDir || f.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return &fs.PathError{Op: "truncate", Path: f.name, Err: fs.ErrInvalid}
	}
	n := f.node
	n.mu.Lock()
	defer n.mu.Unlock()
	if size <= int64(len(n.data)) {
		// Zero the cut-off tail so a later extension reads zeros, as on disk.
		clear(n.data[size:])
		n.data = n.data[:size]
	} else {
		n.data = append(n.data, make([]byte, size-int64(len(n.data)))...)
	}
	n.modTime = time.Now()
	return nil
}

func (f *memFile) Stat() (fs.FileInfo, error) {
	if err := f.checkOpen("stat"); err != nil {
		return nil, err
	}
	return f.node.info(filepath.Base(f.name)), nil
}

type memInfo struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
}

func (i *memInfo) Name() string       { return i.name }
func (i *memInfo) Size() int64        { return i.size }
func (i *memInfo) Mode() fs.FileMode  { return i.mode }
func (i *memInfo) ModTime() time.Time { return i.modTime }
func (i *memInfo) IsDir() bool        { return i.mode.IsDir() }
func (i *memInfo) Sys() any           { return nil }
