package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/parquet-go/parquet-go"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/jsonl"
)

// SourceConfig configures the S3 source.
type SourceConfig struct {
	store

	StartAfter   string        `json:"start_after" doc:"Read only the objects whose keys sort after this one."`
	Format       string        `json:"format" default:"auto" allowed:"auto,jsonl,lines,parquet" doc:"auto: by extension (.parquet; .jsonl, .ndjson, .json; anything else lines). jsonl: a line with a \"value\" field, as the sink writes it, restores key, value, headers and timestamp; another JSON object becomes the value. lines: each line is a value. parquet: rows as the sink writes them."`
	Compression  string        `json:"compression" default:"auto" allowed:"auto,none,gzip,zstd" doc:"Compression of jsonl and lines objects; auto: .gz is gzip, .zst or .zstd zstd, else none."`
	PollInterval time.Duration `json:"poll_interval" default:"10s" doc:"How often to list the prefix for new objects once all are read."`
	AfterRead    string        `json:"after_read" default:"keep" allowed:"keep,delete,move" doc:"What to do with an object once all its records are durably in the station: keep it, delete it, or move it under move_prefix."`
	MovePrefix   string        `json:"move_prefix" doc:"With after_read: move, the object's key with prefix replaced by this one; must not be under prefix."`
	Batch        struct {
		MaxRecords int `json:"max_records" default:"1000" doc:"Most records (and rejected lines) in one batch."`
	} `json:"batch"`
}

// Validate checks the fields against each other.
func (c SourceConfig) Validate() error {
	errs := c.store.validate()
	if c.PollInterval <= 0 {
		errs = append(errs, connector.FieldError{Field: "poll_interval", Message: "must be positive"})
	}
	if c.Batch.MaxRecords <= 0 {
		errs = append(errs, connector.FieldError{Field: "batch.max_records", Message: "must be positive"})
	}
	switch {
	case c.AfterRead == "move" && c.MovePrefix == "":
		errs = append(errs, connector.FieldError{Field: "move_prefix", Message: "is required with after_read: move"})
	case c.AfterRead == "move" && strings.HasPrefix(c.MovePrefix, c.Prefix):
		errs = append(errs, connector.FieldError{Field: "move_prefix", Message: fmt.Sprintf("must not be under prefix %q, or moved objects would be read again", c.Prefix)})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// position is the source's checkpoint: in object Key (with ETag), Offset
// bytes of the decompressed content (Line lines) or, for Parquet, Offset
// rows have been read; Done means all of it.
type position struct {
	Key    string `json:"key"`
	Offset int64  `json:"offset"`
	Line   int64  `json:"line,omitempty"`
	ETag   string `json:"etag"`
	Done   bool   `json:"done,omitempty"`
}

// Header keys the source adds to every record.
const (
	headerKey  = "s3-key"
	headerLine = "s3-line"
)

// source reads the objects under the prefix in key order. An object is
// read once, to its end; objects added later with keys sorting before the
// last one read are not read.
type source struct {
	connector.UnimplementedSource
	cfg    SourceConfig
	client *client
	log    *slog.Logger

	// after is the key of the last object read to its end.
	after   string
	listed  []types.Object
	cur     *object
	resume  *position
	lastPos position
	// rejects are whole objects rejected, for the next batch.
	rejects []connector.Rejected

	// ackMu guards finished, the objects read to their end and not yet
	// deleted or moved, in key order. Ack runs concurrently with Read.
	ackMu    sync.Mutex
	finished []position
}

// object is the object being read.
type object struct {
	key, etag           string
	format, compression string
	offset, line        int64
	body                io.ReadCloser
	bodyErr             *errReader
	dec                 io.ReadCloser
	lines               *bufio.Reader
	rows                *parquet.GenericReader[parquetRow]
}

func newSource(cfg SourceConfig) (connector.Source, error) {
	return &source{cfg: cfg}, nil
}

// Open checks the bucket and resumes after pos. With after_read delete or
// move, objects before pos that are still there (the process stopped
// between the checkpoint and the delete) are deleted or moved now.
func (s *source) Open(ctx context.Context, pos connector.Position) error {
	s.log = connector.Logger(ctx)
	cl, err := newClient(ctx, s.cfg.store)
	if err != nil {
		return err
	}
	s.client = cl
	if err := cl.check(ctx); err != nil {
		return err
	}
	s.after = s.cfg.StartAfter
	if len(pos) == 0 {
		return nil
	}
	var p position
	if err := json.Unmarshal(pos, &p); err != nil || p.Key == "" {
		return connector.Fatal(fmt.Errorf("invalid position %q: %v", pos, err))
	}
	s.lastPos = p
	s.after = p.Key
	if !p.Done {
		s.resume = &p
	}
	if s.cfg.AfterRead != "keep" {
		return s.cleanUpBefore(ctx, p)
	}
	return nil
}

// cleanUpBefore applies after_read to the objects that pos covers.
func (s *source) cleanUpBefore(ctx context.Context, pos position) error {
	in := &s3.ListObjectsV2Input{Bucket: &s.client.bucket, Prefix: &s.cfg.Prefix}
	if s.cfg.StartAfter != "" {
		in.StartAfter = &s.cfg.StartAfter
	}
	pages := s3.NewListObjectsV2Paginator(s.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return classify(fmt.Errorf("list s3://%s/%s: %w", s.client.bucket, s.cfg.Prefix, err))
		}
		for _, obj := range page.Contents {
			key := aws.ToString(obj.Key)
			if key > pos.Key || key == pos.Key && !pos.Done {
				return nil
			}
			if err := s.afterRead(ctx, key); err != nil {
				return err
			}
		}
	}
	return nil
}

// Read returns the next lines or rows, waiting poll_interval between
// listings when every object is read.
func (s *source) Read(ctx context.Context) (connector.Batch, error) {
	for {
		b, progressed, err := s.next(ctx)
		if err != nil || len(b.Records) > 0 || len(b.Rejected) > 0 {
			return b, err
		}
		if progressed {
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

// next reads up to batch.max_records lines or rows, moving on to the next
// listed object when one ends. progressed reports that an object was
// finished even if it held no records.
func (s *source) next(ctx context.Context) (b connector.Batch, progressed bool, err error) {
	for len(b.Records)+len(b.Rejected) < s.cfg.Batch.MaxRecords {
		b.Rejected = append(b.Rejected, s.rejects...)
		s.rejects = nil
		if s.cur == nil {
			obj, err := s.openNext(ctx, len(b.Records)+len(b.Rejected) == 0)
			if err != nil {
				if len(b.Records)+len(b.Rejected) > 0 {
					break
				}
				return b, progressed, err
			}
			if obj == nil {
				break
			}
			s.cur = obj
		}
		eof, err := s.read(&b)
		if err != nil {
			// The connection broke: reopen at the offset reached.
			s.resume = &position{Key: s.cur.key, Offset: s.cur.offset, Line: s.cur.line, ETag: s.cur.etag}
			s.closeCur()
			if len(b.Records)+len(b.Rejected) > 0 {
				break
			}
			return b, progressed, classify(err)
		}
		s.lastPos = position{Key: s.cur.key, Offset: s.cur.offset, Line: s.cur.line, ETag: s.cur.etag, Done: eof}
		if eof {
			s.finish()
			progressed = true
		}
	}
	b.Rejected = append(b.Rejected, s.rejects...)
	s.rejects = nil
	if len(b.Records)+len(b.Rejected) > 0 || progressed {
		pos, err := json.Marshal(s.lastPos)
		if err != nil {
			return b, progressed, fmt.Errorf("encode position: %w", err)
		}
		b.Position = pos
	}
	return b, progressed, nil
}

// finish closes the current object, read to its end.
func (s *source) finish() {
	s.after = s.cur.key
	if s.cfg.AfterRead != "keep" {
		s.ackMu.Lock()
		s.finished = append(s.finished, s.lastPos)
		s.ackMu.Unlock()
	}
	s.closeCur()
}

func (s *source) closeCur() {
	if s.cur == nil {
		return
	}
	if s.cur.rows != nil {
		s.cur.rows.Close()
	}
	if s.cur.dec != nil {
		s.cur.dec.Close()
	}
	if s.cur.body != nil {
		s.cur.body.Close()
	}
	s.cur = nil
}

// openNext opens the object to resume, or the next one listed after the
// last one read; nil when there is none. It lists the prefix again only
// when mayList.
func (s *source) openNext(ctx context.Context, mayList bool) (*object, error) {
	if p := s.resume; p != nil {
		obj, err := s.open(ctx, p.Key, p.ETag, p.Offset, p.Line)
		if err != nil {
			return nil, err
		}
		s.resume = nil
		if obj != nil {
			return obj, nil
		}
	}
	for {
		if len(s.listed) == 0 {
			if !mayList {
				return nil, nil
			}
			mayList = false
			in := &s3.ListObjectsV2Input{Bucket: &s.client.bucket, Prefix: &s.cfg.Prefix}
			if s.after != "" {
				in.StartAfter = &s.after
			}
			out, err := s.client.ListObjectsV2(ctx, in)
			if err != nil {
				return nil, classify(fmt.Errorf("list s3://%s/%s: %w", s.client.bucket, s.cfg.Prefix, err))
			}
			s.listed = out.Contents
			if len(s.listed) == 0 {
				return nil, nil
			}
		}
		o := s.listed[0]
		s.listed = s.listed[1:]
		key := aws.ToString(o.Key)
		if key <= s.after {
			continue
		}
		obj, err := s.open(ctx, key, "", 0, 0)
		if err != nil {
			s.listed = append([]types.Object{o}, s.listed...)
			return nil, err
		}
		if obj != nil {
			return obj, nil
		}
	}
}

// open opens key to read after offset bytes or rows. When etag is given
// and the object has another one now, it is read from its start again. It
// returns nil for an object that no longer exists or holds nothing after
// offset, having moved past it.
func (s *source) open(ctx context.Context, key, etag string, offset, line int64) (*object, error) {
	obj := &object{key: key, offset: offset, line: line}
	obj.format, obj.compression = detect(key)
	if s.cfg.Format != "auto" {
		obj.format = s.cfg.Format
	}
	if s.cfg.Compression != "auto" && obj.format != "parquet" {
		obj.compression = s.cfg.Compression
	}
	ranged := obj.format != "parquet" && obj.compression == "none" && offset > 0
	in := &s3.GetObjectInput{Bucket: &s.client.bucket, Key: &key}
	if ranged {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := s.client.GetObject(ctx, in)
	switch {
	case err != nil && isNotFound(err):
		s.log.Warn("object vanished before it was read to its end; moving on", "bucket", s.client.bucket, "key", key)
		s.skip(key, etag, offset, line)
		return nil, nil
	case err != nil && ranged && isInvalidRange(err):
		head, herr := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.client.bucket, Key: &key})
		if herr != nil {
			return nil, classify(fmt.Errorf("head s3://%s/%s: %w", s.client.bucket, key, herr))
		}
		if etag == "" || aws.ToString(head.ETag) == etag {
			s.skip(key, etag, offset, line)
			return nil, nil
		}
		s.log.Warn("object changed since it was read; reading it again from the start", "bucket", s.client.bucket, "key", key, "etag", aws.ToString(head.ETag), "was", etag)
		return s.open(ctx, key, "", 0, 0)
	case err != nil:
		return nil, classify(fmt.Errorf("get s3://%s/%s: %w", s.client.bucket, key, err))
	}
	obj.etag = aws.ToString(out.ETag)
	if etag != "" && obj.etag != etag {
		out.Body.Close()
		s.log.Warn("object changed since it was read; reading it again from the start", "bucket", s.client.bucket, "key", key, "etag", obj.etag, "was", etag)
		return s.open(ctx, key, "", 0, 0)
	}
	obj.bodyErr = &errReader{r: out.Body}
	obj.body = out.Body
	if obj.format == "parquet" {
		return s.openParquet(obj)
	}
	obj.dec, err = decompressor(obj.bodyErr, obj.compression)
	if err != nil {
		obj.body.Close()
		return nil, s.undecodable(obj, err)
	}
	obj.lines = bufio.NewReaderSize(obj.dec, 256<<10)
	if offset > 0 && !ranged {
		if _, err := io.CopyN(io.Discard, obj.lines, offset); err != nil {
			obj.dec.Close()
			obj.body.Close()
			if obj.bodyErr.err != nil {
				return nil, classify(fmt.Errorf("get s3://%s/%s: %w", s.client.bucket, key, obj.bodyErr.err))
			}
			return nil, s.undecodable(obj, err)
		}
	}
	return obj, nil
}

func (s *source) openParquet(obj *object) (*object, error) {
	data, err := io.ReadAll(obj.bodyErr)
	obj.body.Close()
	obj.body = nil
	if err != nil {
		return nil, classify(fmt.Errorf("get s3://%s/%s: %w", s.client.bucket, obj.key, err))
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, s.undecodable(obj, err)
	}
	obj.rows = parquet.NewGenericReader[parquetRow](f)
	if obj.offset > 0 {
		if obj.offset >= obj.rows.NumRows() {
			obj.rows.Close()
			s.skip(obj.key, obj.etag, obj.offset, obj.line)
			return nil, nil
		}
		if err := obj.rows.SeekToRow(obj.offset); err != nil {
			obj.rows.Close()
			return nil, s.undecodable(obj, err)
		}
	}
	return obj, nil
}

// undecodable is for an object whose content is not in its format or
// compression, now or ever: it is skipped, and rejected as a whole in the
// next batch, since it has no lines to reject one by one.
func (s *source) undecodable(obj *object, err error) error {
	s.skip(obj.key, obj.etag, obj.offset, obj.line)
	s.rejects = append(s.rejects, connector.Rejected{
		Record: connector.Record{Headers: []connector.Header{{Key: headerKey, Value: []byte(obj.key)}}},
		Reason: fmt.Sprintf("s3://%s/%s is not valid %s (compression %s), skipping it: %v", s.client.bucket, obj.key, obj.format, obj.compression, err),
	})
	return nil
}

// skip moves past key as if it had been read to its end.
func (s *source) skip(key, etag string, offset, line int64) {
	s.lastPos = position{Key: key, Offset: offset, Line: line, ETag: etag, Done: true}
	s.after = key
	if s.cfg.AfterRead != "keep" {
		s.ackMu.Lock()
		s.finished = append(s.finished, s.lastPos)
		s.ackMu.Unlock()
	}
}

// read adds the current object's next lines or rows to b, up to the batch
// limit, and reports whether the object ended. An error is the
// connection's; a decoding error ends the object with a rejection.
func (s *source) read(b *connector.Batch) (eof bool, err error) {
	obj := s.cur
	if obj.rows != nil {
		return s.readRows(b)
	}
	for len(b.Records)+len(b.Rejected) < s.cfg.Batch.MaxRecords {
		raw, err := obj.lines.ReadBytes('\n')
		if len(raw) > 0 && (err == nil || errors.Is(err, io.EOF)) {
			obj.offset += int64(len(raw))
			obj.line++
			s.parseLine(b, raw)
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return true, nil
		case obj.bodyErr.err != nil:
			return false, fmt.Errorf("read s3://%s/%s at byte %d: %w", s.client.bucket, obj.key, obj.offset, obj.bodyErr.err)
		default:
			b.Rejected = append(b.Rejected, connector.Rejected{
				Record: connector.Record{Headers: s.headers(obj.line + 1)},
				Reason: fmt.Sprintf("s3://%s/%s line %d: cannot decompress the rest of the object (%s): %v", s.client.bucket, obj.key, obj.line+1, obj.compression, err),
			})
			return true, nil
		}
	}
	// Batch full: end the object now if nothing follows, so the position
	// says it is done.
	if _, err := obj.lines.Peek(1); errors.Is(err, io.EOF) {
		return true, nil
	}
	return false, nil
}

// recordID names a record by object, version and line (or row), which is
// the same whenever the object is read again.
func (s *source) recordID(line int64) string {
	return s.cur.key + "@" + s.cur.etag + ":" + strconv.FormatInt(line, 10)
}

func (s *source) headers(line int64) []connector.Header {
	return []connector.Header{
		{Key: headerKey, Value: []byte(s.cur.key)},
		{Key: headerLine, Value: strconv.AppendInt(nil, line, 10)},
	}
}

func (s *source) parseLine(b *connector.Batch, raw []byte) {
	raw = bytes.TrimSuffix(bytes.TrimSuffix(raw, []byte{'\n'}), []byte{'\r'})
	if len(bytes.TrimSpace(raw)) == 0 {
		return
	}
	if s.cur.format == "lines" {
		b.Records = append(b.Records, connector.Record{Value: bytes.Clone(raw), Headers: s.headers(s.cur.line), ID: s.recordID(s.cur.line)})
		return
	}
	r, err := parseJSONLine(raw)
	if err != nil {
		b.Rejected = append(b.Rejected, connector.Rejected{
			Record: connector.Record{Value: bytes.Clone(raw), Headers: s.headers(s.cur.line)},
			Reason: fmt.Sprintf("s3://%s/%s line %d: %v", s.client.bucket, s.cur.key, s.cur.line, err),
		})
		return
	}
	r.Headers = append(r.Headers, s.headers(s.cur.line)...)
	r.ID = s.recordID(s.cur.line)
	b.Records = append(b.Records, r)
}

// parseJSONLine reads a line the sink wrote, restoring key, value, headers
// and timestamp, or takes another JSON object as the value.
func parseJSONLine(raw []byte) (connector.Record, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return connector.Record{}, errors.New("not a JSON object")
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

func (s *source) readRows(b *connector.Batch) (bool, error) {
	obj := s.cur
	rows := make([]parquetRow, s.cfg.Batch.MaxRecords-len(b.Records)-len(b.Rejected))
	n, err := obj.rows.Read(rows)
	for _, row := range rows[:n] {
		obj.offset++
		r := row.record()
		r.Partition, r.Offset = 0, 0
		r.Headers = append(r.Headers, s.headers(obj.offset)...)
		r.ID = s.recordID(obj.offset)
		b.Records = append(b.Records, r)
	}
	switch {
	case errors.Is(err, io.EOF) || obj.offset >= obj.rows.NumRows():
		return true, nil
	case err != nil:
		b.Rejected = append(b.Rejected, connector.Rejected{
			Record: connector.Record{Headers: s.headers(obj.offset + 1)},
			Reason: fmt.Sprintf("s3://%s/%s row %d: cannot decode the rest of the object: %v", s.client.bucket, obj.key, obj.offset+1, err),
		})
		return true, nil
	}
	return false, nil
}

// Ack deletes or moves, per after_read, the objects read to their end that
// the last position covers.
func (s *source) Ack(ctx context.Context, positions []connector.Position) error {
	if s.cfg.AfterRead == "keep" || len(positions) == 0 {
		return nil
	}
	var p position
	if err := json.Unmarshal(positions[len(positions)-1], &p); err != nil {
		return connector.Fatal(fmt.Errorf("invalid position %q: %w", positions[len(positions)-1], err))
	}
	s.ackMu.Lock()
	n := 0
	for n < len(s.finished) && (s.finished[n].Key < p.Key || s.finished[n].Key == p.Key && p.Done) {
		n++
	}
	covered := s.finished[:n:n]
	s.ackMu.Unlock()
	for i, f := range covered {
		if err := s.afterRead(ctx, f.Key); err != nil {
			s.ackMu.Lock()
			s.finished = s.finished[i:]
			s.ackMu.Unlock()
			return err
		}
	}
	s.ackMu.Lock()
	s.finished = s.finished[n:]
	s.ackMu.Unlock()
	return nil
}

// afterRead deletes or moves key.
func (s *source) afterRead(ctx context.Context, key string) error {
	if s.cfg.AfterRead == "move" {
		dst := s.cfg.MovePrefix + strings.TrimPrefix(key, s.cfg.Prefix)
		_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket:     &s.client.bucket,
			Key:        &dst,
			CopySource: aws.String(s.client.bucket + "/" + escapePath(key)),
		})
		if err != nil && !isNotFound(err) {
			return classify(fmt.Errorf("move s3://%s/%s to %s: %w", s.client.bucket, key, dst, err))
		}
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.client.bucket, Key: &key})
	if err != nil && !isNotFound(err) {
		return classify(fmt.Errorf("delete s3://%s/%s: %w", s.client.bucket, key, err))
	}
	return nil
}

func escapePath(key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}

// Teardown closes the object being read.
func (s *source) Teardown(context.Context) error {
	s.closeCur()
	if s.client != nil {
		s.client.close()
	}
	return nil
}

// errReader remembers the error of the reader it wraps, to tell a broken
// connection from data a decompressor cannot decode.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err
}
