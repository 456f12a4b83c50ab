package seglog

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/junctionhq/junction/broker/vfs"
)

const (
	logSuffix   = ".log"
	indexSuffix = ".index"
)

// segmentName returns the file name of the segment with the given base offset
// and suffix: the offset as 20 zero-padded decimal digits.
func segmentName(base uint64, suffix string) string {
	return fmt.Sprintf("%020d%s", base, suffix)
}

// parseSegmentName parses a segment file name; ok is false for other files.
func parseSegmentName(name string) (base uint64, ok bool) {
	digits, found := strings.CutSuffix(name, logSuffix)
	if !found || len(digits) != 20 {
		return 0, false
	}
	base, err := strconv.ParseUint(digits, 10, 64)
	return base, err == nil
}

// segment is one segment file and its in-memory sparse index.
//
// base and f never change; f reopens the file through the log's FileCache
// once the segment is sealed. The remaining fields are written by the writer
// goroutine (or Open) with Log.mu held and read with Log.mu held, except
// where noted.
type segment struct {
	base uint64
	path string
	f    *segFile
	refs atomic.Int32 // the Log's reference plus one per in-flight reader

	size    int64  // visible (committed) bytes
	wsize   int64  // written bytes, at least size; writer-only
	next    uint64 // one past the last visible offset
	firstTS int64  // timestamp of the first record, 0 if empty
	lastTS  int64  // largest batch max timestamp seen (see SegmentInfo)
	index   indexBuilder
	// indexLazy says the index file holds entries not yet in index:
	// Open trusted it from its last entry (see loadIndex).
	indexLazy bool

	// dirPending says the segment's directory entry may not be durable
	// yet: the next syncSegment syncs the directory too (see roll.go).
	dirPending atomic.Bool

	// rollAt is the wall-clock time (unix nanoseconds) at which the segment
	// is due to roll by age, or 0. Writer-only.
	rollAt int64
}

func (s *segment) name() string { return filepath.Base(s.path) }

// acquire takes a reader reference. The caller must hold Log.mu (read or
// write) so that the Log's own reference cannot be dropped concurrently.
func (s *segment) acquire() { s.refs.Add(1) }

// release drops a reference and closes the file when it was the last.
func (s *segment) release() error {
	if s.refs.Add(-1) == 0 {
		return s.f.Close()
	}
	return nil
}

func (s *segment) info() SegmentInfo {
	return SegmentInfo{
		BaseOffset:     s.base,
		NextOffset:     s.next,
		Bytes:          s.size,
		FirstTimestamp: s.firstTS,
		LastTimestamp:  s.lastTS,
	}
}

// errTorn reports an incomplete batch at the end of a segment.
var errTorn = errors.New("torn batch")

// scanner walks the batches of a segment file from a position, reading in
// large chunks so that each batch does not cost a system call.
type scanner struct {
	f      vfs.File
	end    int64 // file size
	pos    int64 // file position of the next batch
	buf    []byte
	bufOff int64 // file position of buf[0]
}

const scanChunk = 1 << 20

// next returns the header and raw bytes of the batch at s.pos and advances
// past it. raw is valid until the next call. At the end of the file it
// returns io.EOF; an incomplete batch yields errTorn and a bad header an
// ErrCorrupt error, leaving s.pos at the batch.
func (s *scanner) next(readBody bool) (batchHeader, []byte, error) {
	if s.pos >= s.end {
		return batchHeader{}, nil, io.EOF
	}
	if s.end-s.pos < batchHeaderSize {
		return batchHeader{}, nil, errTorn
	}
	hb, err := s.window(s.pos, batchHeaderSize)
	if err != nil {
		return batchHeader{}, nil, err
	}
	h, err := parseHeader(hb)
	if err != nil {
		return h, nil, err
	}
	n := int64(h.size())
	if s.end-s.pos < n {
		return h, nil, errTorn
	}
	var raw []byte
	if readBody {
		if raw, err = s.window(s.pos, n); err != nil {
			return h, nil, err
		}
	}
	s.pos += n
	return h, raw, nil
}

// window returns n bytes at file position pos, refilling the buffer when
// they are not already in it.
func (s *scanner) window(pos, n int64) ([]byte, error) {
	if pos >= s.bufOff && pos+n <= s.bufOff+int64(len(s.buf)) {
		return s.buf[pos-s.bufOff : pos-s.bufOff+n], nil
	}
	want := min(max(n, scanChunk), s.end-pos)
	if int64(cap(s.buf)) < want {
		s.buf = make([]byte, want)
	}
	s.buf = s.buf[:want]
	s.bufOff = pos
	if err := readAt(s.f, s.buf, pos); err != nil {
		s.buf = s.buf[:0]
		return nil, err
	}
	return s.buf[:n], nil
}

// zeros returns how many bytes from file position pos on are zero.
func (s *scanner) zeros(pos int64) (int64, error) {
	var n int64
	for pos+n < s.end {
		w, err := s.window(pos+n, min(scanChunk, s.end-pos-n))
		if err != nil {
			return n, err
		}
		i := 0
		for i < len(w) && w[i] == 0 {
			i++
		}
		n += int64(i)
		if i < len(w) {
			break
		}
	}
	return n, nil
}

// readAt fills buf from position pos; a short read is io.ErrUnexpectedEOF.
func readAt(f vfs.File, buf []byte, pos int64) error {
	n, err := f.ReadAt(buf, pos)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}
