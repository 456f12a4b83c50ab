package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/jsonl"
)

// SourceConfig configures the file source.
type SourceConfig struct {
	Glob         string        `json:"glob" connector:"required,path" doc:"Files to read, such as \"/var/log/app/*.jsonl\"; read in name order, each from its start."`
	Format       string        `json:"format" default:"jsonl" allowed:"jsonl,lines" doc:"jsonl: each line is a JSON object; its \"value\" field (embedded as the file sink writes it, with key, headers and timestamp) is the record, or the whole line when it has none. lines: each line is a record's value."`
	PollInterval time.Duration `json:"poll_interval" default:"1s" doc:"How often to look for appended lines and new files."`
	Batch        struct {
		MaxRecords int `json:"max_records" default:"1000" doc:"Most records (and rejected lines) in one batch."`
	} `json:"batch"`
}

// Validate checks the fields against each other.
func (c SourceConfig) Validate() error {
	var errs connector.FieldErrors
	if _, err := filepath.Match(c.Glob, ""); err != nil {
		errs = append(errs, connector.FieldError{Field: "glob", Message: err.Error()})
	}
	if c.PollInterval <= 0 {
		errs = append(errs, connector.FieldError{Field: "poll_interval", Message: "must be positive"})
	}
	if c.Batch.MaxRecords <= 0 {
		errs = append(errs, connector.FieldError{Field: "batch.max_records", Message: "must be positive"})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// position is the source's checkpoint: the byte offset after the last line
// read from file.
type position struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
}

// source reads the files matching the glob in name order. It moves on to
// the next file once the current one is read to its end and a later one
// exists; lines appended to a file after that are not read.
type source struct {
	connector.UnimplementedSource
	cfg SourceConfig

	file   *os.File
	path   string
	offset int64 // after the last line returned
	line   int   // number of the last line returned
	buf    []byte
}

func newSource(cfg SourceConfig) (connector.Source, error) {
	return &source{cfg: cfg}, nil
}

// Open resumes after pos, or starts with the first file.
func (s *source) Open(_ context.Context, pos connector.Position) error {
	if len(pos) == 0 {
		return nil
	}
	var p position
	if err := json.Unmarshal(pos, &p); err != nil {
		return connector.Fatal(fmt.Errorf("invalid position %q: %w", pos, err))
	}
	f, err := os.Open(p.File)
	if errors.Is(err, os.ErrNotExist) {
		s.path = p.File // gone: continue with the files after it
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", p.File, err)
	}
	lines, err := countLines(f, p.Offset)
	if err != nil {
		f.Close()
		return fmt.Errorf("read %s: %w", p.File, err)
	}
	s.file, s.path, s.offset, s.line = f, p.File, p.Offset, lines
	return nil
}

func countLines(r io.ReaderAt, n int64) (int, error) {
	lines := 0
	buf := make([]byte, 64<<10)
	for off := int64(0); off < n; {
		m, err := r.ReadAt(buf[:min(int64(len(buf)), n-off)], off)
		lines += bytes.Count(buf[:m], []byte{'\n'})
		off += int64(m)
		if err != nil && off < n {
			return 0, err
		}
	}
	return lines, nil
}

// Read returns the next complete lines, waiting poll_interval between
// looks when there are none.
func (s *source) Read(ctx context.Context) (connector.Batch, error) {
	for {
		b, err := s.next()
		if err != nil || len(b.Records) > 0 || len(b.Rejected) > 0 {
			return b, err
		}
		moved, err := s.advance()
		if err != nil {
			return connector.Batch{}, err
		}
		if moved {
			continue
		}
		t := time.NewTimer(s.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return connector.Batch{}, ctx.Err()
		case <-t.C:
		}
	}
}

// next reads up to batch.max_records complete lines of the current file.
func (s *source) next() (connector.Batch, error) {
	var b connector.Batch
	if s.file == nil {
		return b, nil
	}
	chunk := make([]byte, 64<<10)
	for len(b.Records)+len(b.Rejected) < s.cfg.Batch.MaxRecords {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			n, err := s.file.ReadAt(chunk, s.offset+int64(len(s.buf)))
			s.buf = append(s.buf, chunk[:n]...)
			if n == 0 {
				if err != nil && !errors.Is(err, io.EOF) {
					return b, fmt.Errorf("read %s: %w", s.path, err)
				}
				break
			}
			continue
		}
		raw := bytes.TrimSuffix(s.buf[:i], []byte{'\r'})
		s.buf = s.buf[i+1:]
		start := s.offset
		s.offset += int64(i) + 1
		s.line++
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		r, err := s.parse(raw)
		if err != nil {
			b.Rejected = append(b.Rejected, connector.Rejected{
				Record: connector.Record{Value: bytes.Clone(raw)},
				Reason: fmt.Sprintf("%s line %d: %v", s.path, s.line, err),
			})
			continue
		}
		r.ID = s.path + ":" + strconv.FormatInt(start, 10)
		b.Records = append(b.Records, r)
	}
	pos, err := json.Marshal(position{File: s.path, Offset: s.offset})
	if err != nil {
		return b, fmt.Errorf("encode position: %w", err)
	}
	b.Position = pos
	return b, nil
}

func (s *source) parse(raw []byte) (connector.Record, error) {
	if s.cfg.Format == "lines" {
		return connector.Record{Value: bytes.Clone(raw)}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return connector.Record{}, fmt.Errorf("not a JSON object")
	}
	if _, ok := obj["value"]; !ok {
		return connector.Record{Value: bytes.Clone(raw)}, nil
	}
	r, err := jsonl.Decode(raw)
	if err != nil {
		return connector.Record{}, err
	}
	r.Partition, r.Offset = 0, 0
	return r, nil
}

// advance moves to the next file when the current one is read to its end
// and a later one exists. It reports whether it moved.
func (s *source) advance() (bool, error) {
	if s.file != nil && len(s.buf) > 0 {
		return false, nil // an incomplete last line: wait for the rest
	}
	names, err := filepath.Glob(s.cfg.Glob)
	if err != nil {
		return false, connector.Fatal(fmt.Errorf("glob %s: %w", s.cfg.Glob, err))
	}
	sort.Strings(names)
	i := sort.SearchStrings(names, s.path)
	if i < len(names) && names[i] == s.path {
		i++
	}
	if i >= len(names) {
		return false, nil
	}
	if s.file != nil {
		// Lines may have been appended since next looked.
		if st, err := s.file.Stat(); err != nil || st.Size() > s.offset {
			return err == nil, err
		}
		s.file.Close()
	}
	f, err := os.Open(names[i])
	if err != nil {
		return false, fmt.Errorf("open %s: %w", names[i], err)
	}
	s.file, s.path, s.offset, s.line, s.buf = f, names[i], 0, 0, nil
	return true, nil
}

// Teardown closes the current file.
func (s *source) Teardown(context.Context) error {
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}
