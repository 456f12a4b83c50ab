package seglog

import (
	"container/list"
	"errors"
	"io/fs"
	"os"
	"sync"
	"syscall"

	"github.com/junctionhq/junction/broker/vfs"
)

// FileCache bounds the open files of sealed segments, shared by every log
// that uses it. The active segment of each log stays open while its writer
// runs and is not counted; while the log is idle its active segment counts
// like a sealed one. A sealed segment's file is opened when a read, scrub
// or repair needs it and kept open until the least recently used sealed
// files beyond the limit are closed. A file in use by a read is never
// closed under it, so while more reads are in flight than the limit allows
// the count exceeds it by at most their number.
//
// A FileCache is safe for concurrent use.
type FileCache struct {
	limit int

	mu     sync.Mutex
	idle   list.List // of *segFile: open, counted, unpinned; most recent first
	open   int       // open files counted against limit
	opens  int64     // files opened by the cache (reopens of evicted segments)
	closes int64     // files closed by eviction
}

// NewFileCache returns a cache that keeps at most limit sealed segment files
// open; limit below 1 means 1.
func NewFileCache(limit int) *FileCache {
	return &FileCache{limit: max(limit, 1)}
}

// DefaultFileCacheLimit is the limit of the cache logs share when
// Options.FileCache is nil: a quarter of the process's open file limit
// (RLIMIT_NOFILE), between 64 and 65536, leaving the rest to active
// segments, index files, sockets and plugins.
func DefaultFileCacheLimit() int {
	n := openFileLimit() / 4
	return min(max(n, 64), 1<<16)
}

var defaultFileCache = sync.OnceValue(func() *FileCache { return NewFileCache(DefaultFileCacheLimit()) })

// FileCacheStats is a snapshot of a FileCache.
type FileCacheStats struct {
	// Limit is the most sealed (or parked active) segment files kept open.
	Limit int
	// Open is the number of those files open now.
	Open int
	// Reopens counts files the cache opened for segments it had closed or
	// never opened; Evictions counts files it closed to stay in its limit.
	Reopens, Evictions int64
}

// Stats returns the cache's current figures.
func (c *FileCache) Stats() FileCacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return FileCacheStats{Limit: c.limit, Open: c.open, Reopens: c.opens, Evictions: c.closes}
}

// segFile is the file of one segment as a vfs.File: every call takes the
// open file from the cache, reopening it if it was closed, and gives it back
// when done. While the segment is active the writer holds the file pinned,
// so it stays open and is not counted against the limit (see park).
//
// Reopening a segment that retention has deleted fails with an error
// matching fs.ErrNotExist; readers that still hold a reference to it treat
// that as the segment being gone.
type segFile struct {
	c      *FileCache
	fs     vfs.FS
	path   string
	elem   *list.Element // in c.idle while open, counted and unpinned
	f      vfs.File      // nil while closed
	pins   int           // calls in progress, plus one while active
	active bool          // pinned by the writer and not counted
	closed bool          // Close was called; no reopening
	// opening is closed when an open in progress finishes; nil otherwise.
	opening chan struct{}
}

var (
	_ vfs.File     = (*segFile)(nil)
	_ syscall.Conn = (*segFile)(nil)
)

// newActiveFile wraps f, the freshly opened file of an active segment. A nil
// c is the process-wide default cache.
func (c *FileCache) newActiveFile(fsys vfs.FS, path string, f vfs.File) *segFile {
	if c == nil {
		c = defaultFileCache()
	}
	return &segFile{c: c, fs: fsys, path: path, f: f, pins: 1, active: true}
}

// seal drops the writer's pin: the file becomes one of the cache's sealed
// files and may be closed when unused.
func (s *segFile) seal() {
	c := s.c
	c.mu.Lock()
	if !s.active {
		c.mu.Unlock()
		return
	}
	s.active = false
	if s.f != nil {
		c.open++
	}
	s.unpinLocked()
	evicted := c.evictLocked()
	c.mu.Unlock()
	closeAll(evicted)
}

// park drops the pin of the writer of an active segment that went idle:
// the file counts against the limit and may be closed when unused, as a
// sealed one, and unpark pins it again (reopening it for appending if it
// was closed) when the writer starts.
func (s *segFile) park() { s.seal() }

// unpark pins the file of the active segment for the writer again, and
// stops counting it against the limit.
func (s *segFile) unpark() error {
	if _, err := s.get(); err != nil {
		return err
	}
	c := s.c
	c.mu.Lock()
	if s.active {
		s.pins-- // the writer's pin is there already
	} else {
		s.active = true
		c.open--
	}
	c.mu.Unlock()
	return nil
}

// get returns the open file, opening it if needed, pinned until put.
func (s *segFile) get() (vfs.File, error) {
	c := s.c
	c.mu.Lock()
	for {
		if s.closed {
			c.mu.Unlock()
			return nil, &fs.PathError{Op: "read", Path: s.path, Err: fs.ErrClosed}
		}
		if s.f != nil {
			s.pins++
			if s.elem != nil {
				c.idle.Remove(s.elem)
				s.elem = nil
			}
			c.mu.Unlock()
			return s.f, nil
		}
		if s.opening == nil {
			break
		}
		ch := s.opening
		c.mu.Unlock()
		<-ch
		c.mu.Lock()
	}
	ch := make(chan struct{})
	s.opening = ch
	c.mu.Unlock()

	// O_APPEND: an idle active segment is reopened to be appended to.
	f, err := s.fs.OpenFile(s.path, os.O_RDWR|os.O_APPEND, 0)

	c.mu.Lock()
	s.opening = nil
	close(ch)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	if s.closed {
		c.mu.Unlock()
		_ = f.Close()
		return nil, &fs.PathError{Op: "read", Path: s.path, Err: fs.ErrClosed}
	}
	s.f, s.pins = f, s.pins+1
	c.open++
	c.opens++
	evicted := c.evictLocked()
	c.mu.Unlock()
	closeAll(evicted)
	return f, nil
}

// put gives back a file taken with get.
func (s *segFile) put() {
	c := s.c
	c.mu.Lock()
	s.unpinLocked()
	evicted := c.evictLocked()
	c.mu.Unlock()
	closeAll(evicted)
}

// unpinLocked drops one pin; an unused sealed file joins the idle list.
func (s *segFile) unpinLocked() {
	s.pins--
	if s.pins == 0 && s.f != nil && !s.active {
		s.elem = s.c.idle.PushFront(s)
	}
}

// evictLocked takes the least recently used idle files out of the cache
// while it is over its limit and returns them for closing outside c.mu.
func (c *FileCache) evictLocked() []vfs.File {
	var out []vfs.File
	for c.open > c.limit && c.idle.Len() > 0 {
		s := c.idle.Remove(c.idle.Back()).(*segFile)
		s.elem = nil
		out = append(out, s.f)
		s.f = nil
		c.open--
		c.closes++
	}
	return out
}

func closeAll(files []vfs.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// ReadAt reads from the segment file, reopening it if needed.
func (s *segFile) ReadAt(b []byte, off int64) (int, error) {
	f, err := s.get()
	if err != nil {
		return 0, err
	}
	defer s.put()
	return f.ReadAt(b, off)
}

// Write appends to the segment file; only the writer calls it, on the active
// segment.
func (s *segFile) Write(b []byte) (int, error) {
	f, err := s.get()
	if err != nil {
		return 0, err
	}
	defer s.put()
	return f.Write(b)
}

// Sync fsyncs the segment file.
func (s *segFile) Sync() error {
	f, err := s.get()
	if err != nil {
		return err
	}
	defer s.put()
	return f.Sync()
}

// Truncate truncates the segment file.
func (s *segFile) Truncate(size int64) error {
	f, err := s.get()
	if err != nil {
		return err
	}
	defer s.put()
	return f.Truncate(size)
}

// Stat returns the segment file's metadata.
func (s *segFile) Stat() (fs.FileInfo, error) {
	f, err := s.get()
	if err != nil {
		return nil, err
	}
	defer s.put()
	return f.Stat()
}

// SyscallConn gives access to the descriptor of the open file, for hints
// to the kernel about the active segment (which stays open). It fails with
// errors.ErrUnsupported when the file has none (not an OS file); once a
// sealed file has been closed for the limit, the RawConn's calls fail.
func (s *segFile) SyscallConn() (syscall.RawConn, error) {
	f, err := s.get()
	if err != nil {
		return nil, err
	}
	defer s.put()
	sc, ok := f.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}

// Close closes the file for good. It is called when the segment's last
// reference is released, so no call is in progress.
func (s *segFile) Close() error {
	c := s.c
	c.mu.Lock()
	if s.closed {
		c.mu.Unlock()
		return nil
	}
	s.closed = true
	f := s.f
	if f != nil {
		if s.elem != nil {
			c.idle.Remove(s.elem)
			s.elem = nil
		}
		if !s.active {
			c.open--
		}
		s.f = nil
	}
	c.mu.Unlock()
	if f == nil {
		return nil
	}
	return f.Close()
}

// gone reports whether retention has deleted seg from the log, or the log
// has closed: a reader whose reopen of seg failed because the file no longer
// exists then starts over from the log's current bounds.
func (l *Log) gone(seg *segment) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.isClosed || seg.base < l.start
}
