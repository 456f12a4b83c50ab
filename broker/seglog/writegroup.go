package seglog

import (
	"io"

	"github.com/junctionhq/junction/broker/vfs"
)

// coalesceBytes is the size below which the batches of a group commit are
// copied together into one write. Larger batches are written from their own
// buffers: a group of 1 MiB batches costs a write call each rather than a
// copy of the whole group into a buffer the log would keep (a burst of
// producers used to leave each log holding a 16 MiB buffer).
const coalesceBytes = 64 << 10

// writeBatches writes the encoded batches of reqs to f, in order. It returns
// the first error; a short write is io.ErrShortWrite. The caller truncates
// whatever part of the group was written.
func (l *Log) writeBatches(f vfs.File, reqs []*appendReq) error {
	buf := l.wbuf[:0]
	defer func() { l.wbuf = buf[:0] }()
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		err := writeAll(f, buf)
		buf = buf[:0]
		return err
	}
	for _, r := range reqs {
		if len(r.buf) >= coalesceBytes {
			if err := flush(); err != nil {
				return err
			}
			if err := writeAll(f, r.buf); err != nil {
				return err
			}
			continue
		}
		if len(buf)+len(r.buf) > coalesceBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		buf = append(buf, r.buf...)
	}
	return flush()
}

func writeAll(f vfs.File, b []byte) error {
	n, err := f.Write(b)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	return err
}
