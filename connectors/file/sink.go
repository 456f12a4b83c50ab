package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/jsonl"
)

// SinkConfig configures the file sink.
type SinkConfig struct {
	Dir    string `json:"dir" connector:"required,path" doc:"Directory the files are written to; created if missing."`
	Prefix string `json:"prefix" doc:"Prepended to every file name, such as \"orders/\" or \"export-\"."`
	Rotate struct {
		MaxBytes   connector.Size `json:"max_bytes" default:"64MiB" doc:"Start a new file before one would grow beyond this size."`
		MaxRecords int            `json:"max_records" default:"0" doc:"Start a new file after this many records; 0 for no limit."`
		Interval   time.Duration  `json:"interval" default:"0s" doc:"Start a new file when a record's timestamp is this much later than the file's first; 0 for never."`
	} `json:"rotate"`
}

// Validate checks the fields against each other.
func (c SinkConfig) Validate() error {
	var errs connector.FieldErrors
	if c.Rotate.MaxBytes <= 0 {
		errs = append(errs, connector.FieldError{Field: "rotate.max_bytes", Message: "must be positive"})
	}
	if c.Rotate.MaxRecords < 0 {
		errs = append(errs, connector.FieldError{Field: "rotate.max_records", Message: "must not be negative"})
	}
	if c.Rotate.Interval < 0 {
		errs = append(errs, connector.FieldError{Field: "rotate.interval", Message: "must not be negative"})
	}
	if !filepath.IsLocal(filepath.FromSlash(c.Prefix + "x")) {
		errs = append(errs, connector.FieldError{Field: "prefix", Message: "must stay inside dir: no absolute path, no \"..\""})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// sink writes each partition to a sequence of files. The one being written
// is <prefix><station>-p<P>-<first offset>.jsonl.partial; when it is full it
// is renamed to <prefix><station>-p<P>-<first>-<last>.jsonl. Offsets are 20
// digits so names sort in offset order.
type sink struct {
	connector.UnimplementedSink
	cfg     SinkConfig
	station string
	files   map[uint32]*partFile
	// next is the next offset to write per partition; lower ones are durable.
	next map[uint32]uint64
	// line is the record being written, rendered into a reused buffer.
	line []byte
}

// partFile is an open .partial file.
type partFile struct {
	f       *os.File
	path    string
	first   uint64
	last    uint64
	records int
	bytes   int64
	firstTS time.Time
	pending []byte
}

func newSink(cfg SinkConfig) (connector.Sink, error) {
	return &sink{cfg: cfg}, nil
}

var fileRE = regexp.MustCompile(`-p(\d+)-(\d{20})(?:-(\d{20})\.jsonl|\.jsonl\.partial)$`)

func (s *sink) base(p uint32, first uint64) string {
	return fmt.Sprintf("%s%s-p%d-%020d", s.cfg.Prefix, s.station, p, first)
}

// Open finds where each partition's files end: a .partial file is repaired
// (a torn last line cut off) and continued; otherwise the next offset is
// the one after the last final file.
func (s *sink) Open(ctx context.Context, info connector.SinkInfo) (map[uint32]uint64, error) {
	s.station = info.Station
	s.files = make(map[uint32]*partFile)
	s.next = make(map[uint32]uint64)
	dir := filepath.Dir(filepath.Join(s.cfg.Dir, s.cfg.Prefix+"x"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, connector.Fatal(fmt.Errorf("create %s: %w", dir, err))
	}
	pattern := filepath.Join(s.cfg.Dir, s.cfg.Prefix+globEscape(s.station)+"-p*")
	names, err := filepath.Glob(pattern)
	if err != nil {
		return nil, connector.Fatal(fmt.Errorf("list %s: %w", pattern, err))
	}
	for _, name := range names {
		m := fileRE.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		p64, _ := strconv.ParseUint(m[1], 10, 32)
		first, _ := strconv.ParseUint(m[2], 10, 64)
		p := uint32(p64)
		if !strings.HasPrefix(name, filepath.Join(s.cfg.Dir, s.base(p, first))) {
			continue // another station whose name starts like this one
		}
		if m[3] != "" {
			last, _ := strconv.ParseUint(m[3], 10, 64)
			s.next[p] = max(s.next[p], last+1)
			continue
		}
		if s.files[p] != nil {
			return nil, connector.Fatal(fmt.Errorf("partition %d has two partial files: %s and %s", p, s.files[p].path, name))
		}
		pf, err := recoverPartial(name)
		if err != nil {
			return nil, err
		}
		if pf == nil {
			continue
		}
		s.files[p] = pf
		s.next[p] = max(s.next[p], pf.last+1)
	}
	if len(s.next) == 0 {
		return nil, nil
	}
	return s.next, nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(s)
}

// recoverPartial opens a .partial file for appending after cutting off a
// torn last line. An empty one is removed and nil returned.
func recoverPartial(path string) (*partFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	good := bytes.LastIndexByte(data, '\n') + 1
	if good == 0 {
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove empty %s: %w", path, err)
		}
		return nil, nil
	}
	pf := &partFile{path: path, bytes: int64(good)}
	sc := bufio.NewScanner(bytes.NewReader(data[:good]))
	sc.Buffer(nil, len(data)+1)
	for sc.Scan() {
		r, err := jsonl.Decode(sc.Bytes())
		if err != nil {
			return nil, connector.Fatal(fmt.Errorf("%s line %d: %w", path, pf.records+1, err))
		}
		if pf.records == 0 {
			pf.first, pf.firstTS = r.Offset, r.Timestamp
		}
		pf.last = r.Offset
		pf.records++
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if good < len(data) {
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return nil, fmt.Errorf("truncate torn line of %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("sync %s: %w", path, err)
		}
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, fmt.Errorf("seek %s: %w", path, err)
	}
	pf.f = f
	return pf, nil
}

// Write appends each record whose offset is not yet durable and fsyncs
// every file it touched before returning.
func (s *sink) Write(ctx context.Context, records []connector.Record) error {
	if s.files == nil {
		return connector.Fatal(errors.New("write before open"))
	}
	touched := make(map[uint32]bool)
	for _, r := range records {
		if err := ctx.Err(); err != nil {
			return err
		}
		if next, ok := s.next[r.Partition]; ok && r.Offset < next {
			continue
		}
		s.line = jsonl.Append(s.line[:0], s.station, r)
		b := s.line
		pf := s.files[r.Partition]
		if pf != nil && s.full(pf, r, len(b)) {
			if err := s.rotate(r.Partition); err != nil {
				return err
			}
			pf = nil
		}
		if pf == nil {
			var err error
			if pf, err = s.create(r.Partition, r); err != nil {
				return err
			}
		}
		pf.pending = append(pf.pending, b...)
		pf.bytes += int64(len(b))
		pf.records++
		pf.last = r.Offset
		s.next[r.Partition] = r.Offset + 1
		touched[r.Partition] = true
	}
	for p := range touched {
		if err := s.flush(s.files[p]); err != nil {
			return err
		}
	}
	return nil
}

func (s *sink) full(pf *partFile, r connector.Record, n int) bool {
	rot := s.cfg.Rotate
	return pf.bytes+int64(n) > int64(rot.MaxBytes) ||
		rot.MaxRecords > 0 && pf.records >= rot.MaxRecords ||
		rot.Interval > 0 && r.Timestamp.Sub(pf.firstTS) >= rot.Interval
}

func (s *sink) create(p uint32, first connector.Record) (*partFile, error) {
	path := filepath.Join(s.cfg.Dir, s.base(p, first.Offset)+".jsonl.partial")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, err
	}
	pf := &partFile{f: f, path: path, first: first.Offset, firstTS: first.Timestamp}
	s.files[p] = pf
	return pf, nil
}

// flush appends the pending lines and fsyncs.
func (s *sink) flush(pf *partFile) error {
	if len(pf.pending) == 0 {
		return nil
	}
	if _, err := pf.f.Write(pf.pending); err != nil {
		return fmt.Errorf("append to %s: %w", pf.path, err)
	}
	if err := pf.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", pf.path, err)
	}
	pf.pending = pf.pending[:0]
	return nil
}

// rotate makes partition p's partial file final: flush, close, rename to
// its offset range, fsync the directory.
func (s *sink) rotate(p uint32) error {
	pf := s.files[p]
	if err := s.flush(pf); err != nil {
		return err
	}
	if err := pf.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", pf.path, err)
	}
	delete(s.files, p)
	final := filepath.Join(s.cfg.Dir, fmt.Sprintf("%s-%020d.jsonl", s.base(p, pf.first), pf.last))
	if err := os.Rename(pf.path, final); err != nil {
		return fmt.Errorf("rename %s: %w", pf.path, err)
	}
	return syncDir(filepath.Dir(final))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// Teardown closes the partial files; the next Open continues them.
func (s *sink) Teardown(context.Context) error {
	var errs []error
	for p, pf := range s.files {
		if err := s.flush(pf); err != nil {
			errs = append(errs, err)
		}
		if err := pf.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", pf.path, err))
		}
		delete(s.files, p)
	}
	return errors.Join(errs...)
}
