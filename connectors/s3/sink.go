package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/jsonl"
)

// SinkConfig configures the S3 sink.
type SinkConfig struct {
	store

	Format      string `json:"format" default:"jsonl" allowed:"jsonl,lines,parquet" doc:"jsonl: one JSON object per record with station, partition, offset, timestamp, key, headers and value (embedded as JSON when it is JSON, else a string, else base64). lines: each record's value as one line. parquet: columns partition, offset, timestamp, key, value, headers, and when the station has a JSON Schema, Avro or Protobuf schema a group fields with one typed column per top-level scalar field."`
	Compression string `json:"compression" default:"none" allowed:"none,gzip,zstd" doc:"Compression of jsonl and lines objects (adds .gz or .zst to the extension); for parquet, the column codec."`
	KeyTemplate string `json:"key_template" default:"{prefix}{station}/partition={partition}/{yyyy}/{mm}/{dd}/{hh}/{first_offset}-{last_offset}.{ext}" doc:"Object key. Fields: {prefix}, {station}, {partition}, {yyyy} {mm} {dd} {hh} (UTC time of the object's first record), {first_offset} and {last_offset} (20 digits), {ext}. Must contain {partition} and {first_offset}."`
	Flush       struct {
		MaxRecords        int            `json:"max_records" default:"100000" doc:"Upload a partition's object once it holds this many records."`
		MaxBytes          connector.Size `json:"max_bytes" default:"64MiB" doc:"Upload a partition's object once its records take this much, encoded and before compression."`
		RotateInterval    time.Duration  `json:"rotate_interval" default:"10m" doc:"Upload a partition's object before adding a record whose timestamp is this much later than the object's first; 0 for never. Keep it below the station's retention."`
		WallClockInterval time.Duration  `json:"wall_clock_interval" default:"0s" doc:"Also upload an object this long after its first record arrived, even if no more records come; 0 for never. Makes object boundaries depend on timing."`
		AcrossWrites      bool           `json:"across_writes" default:"false" doc:"false: every Write uploads what it buffered before returning, so nothing the broker counts as written is only in memory, whatever the station's retention (objects are at most one connector batch: raise batch.max_records/max_bytes/max_wait for larger ones). true: keep buffering across Writes for larger objects; after a crash the sink resumes from the objects in the bucket, which needs the station to still hold every record not yet uploaded (keep rotate_interval well below its retention, and do not use ack retention)."`
	} `json:"flush"`
	MaxBufferBytes connector.Size `json:"max_buffer_bytes" default:"256MiB" doc:"Memory for buffered records across all partitions; beyond it the largest buffer is uploaded early."`
	Upload         struct {
		PartSize    connector.Size `json:"part_size" default:"16MiB" doc:"Objects larger than this are uploaded in parts of this size (at least 5MiB)."`
		Concurrency int            `json:"concurrency" default:"4" doc:"Parts of one object, and objects of different partitions, uploaded at the same time."`
	} `json:"upload"`
}

// Validate checks the fields against each other and the key template.
func (c SinkConfig) Validate() error {
	errs := c.store.validate()
	if _, err := parseKeyTemplate(c.KeyTemplate); err != nil {
		errs = append(errs, connector.FieldError{Field: "key_template", Message: err.Error()})
	}
	if c.Flush.MaxRecords <= 0 {
		errs = append(errs, connector.FieldError{Field: "flush.max_records", Message: "must be positive"})
	}
	if c.Flush.MaxBytes <= 0 {
		errs = append(errs, connector.FieldError{Field: "flush.max_bytes", Message: "must be positive"})
	}
	if c.Flush.RotateInterval < 0 {
		errs = append(errs, connector.FieldError{Field: "flush.rotate_interval", Message: "must not be negative"})
	}
	if c.Flush.WallClockInterval < 0 {
		errs = append(errs, connector.FieldError{Field: "flush.wall_clock_interval", Message: "must not be negative"})
	}
	if c.MaxBufferBytes <= 0 {
		errs = append(errs, connector.FieldError{Field: "max_buffer_bytes", Message: "must be positive"})
	}
	if int64(c.Upload.PartSize) < manager.MinUploadPartSize {
		errs = append(errs, connector.FieldError{Field: "upload.part_size", Message: "must be at least 5MiB"})
	}
	if c.Upload.Concurrency < 1 {
		errs = append(errs, connector.FieldError{Field: "upload.concurrency", Message: "must be at least 1"})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// sink buffers each partition's records in memory and uploads them as one
// object when a flush threshold is reached, on Teardown, or when the
// buffers together exceed max_buffer_bytes.
//
// Write returns before the buffered records are in the bucket, and the
// broker acks them. That is safe because Open reports, per partition, the
// offset after the last one the bucket holds (parsed from the keys), and
// the broker rewinds the sink's group to it, even behind its committed
// offset: records that were buffered when the process died are delivered
// again, as long as the station still retains them. Object keys hold the
// offsets, so a replay never duplicates a record.
type sink struct {
	connector.UnimplementedSink
	cfg     SinkConfig
	tmpl    *keyTemplate
	ext     string
	station string
	client  *client
	up      *manager.Uploader
	typed   *typedColumns // nil unless parquet with a typed schema

	// mu guards the fields below against the wall-clock flusher.
	mu    sync.Mutex
	parts map[uint32]*buffer
	// next is the next offset accepted per partition; lower ones are
	// buffered or in the bucket.
	next  map[uint32]uint64
	total int64
	// queue holds per partition the buffers taken out of parts for upload,
	// in offset order; see upload.
	queue map[uint32][]*buffer

	stop chan struct{}
	done chan struct{}
}

// buffer holds a partition's records not yet uploaded.
type buffer struct {
	partition   uint32
	first, last uint64
	firstTS     time.Time
	arrived     time.Time
	records     int
	size        int64
	data        []byte
	rows        []parquetRow
	typed       [][]any // typed fields of rows, with typed columns
}

func newSink(cfg SinkConfig) (connector.Sink, error) {
	tmpl, err := parseKeyTemplate(cfg.KeyTemplate)
	if err != nil {
		return nil, connector.FieldErrors{{Field: "key_template", Message: err.Error()}}
	}
	return &sink{cfg: cfg, tmpl: tmpl, ext: extension(cfg.Format, cfg.Compression)}, nil
}

// Open checks the bucket and finds, per partition, the offset after the
// highest one already in the bucket. Every partition of the station is in
// the result (0 for one without objects), so the broker rewinds all of
// them to what the bucket holds.
func (s *sink) Open(ctx context.Context, info connector.SinkInfo) (map[uint32]uint64, error) {
	s.station = info.Station
	if s.cfg.Format == "parquet" {
		typed, err := newTypedColumns(info.Schema)
		if err != nil {
			return nil, connector.Fatal(err)
		}
		s.typed = typed
	}
	cl, err := newClient(ctx, s.cfg.store)
	if err != nil {
		return nil, err
	}
	s.client = cl
	s.up = manager.NewUploader(cl.Client, func(u *manager.Uploader) {
		u.PartSize = int64(s.cfg.Upload.PartSize)
		u.Concurrency = s.cfg.Upload.Concurrency
	})
	if err := cl.check(ctx); err != nil {
		return nil, err
	}
	next, err := s.scan(ctx)
	if err != nil {
		return nil, err
	}
	for p := range info.Partitions {
		if _, ok := next[p]; !ok {
			next[p] = 0
		}
	}
	s.parts = make(map[uint32]*buffer)
	s.queue = make(map[uint32][]*buffer)
	s.next = make(map[uint32]uint64, len(next))
	for p, off := range next {
		s.next[p] = off
	}
	if s.cfg.Flush.WallClockInterval > 0 {
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.flushByWallClock(connector.Logger(ctx), s.stop, s.done)
	}
	return next, nil
}

// scan lists the station's objects and returns the offset after the last
// one each partition's objects hold.
func (s *sink) scan(ctx context.Context) (map[uint32]uint64, error) {
	prefix, re := s.tmpl.matcher(s.cfg.Prefix, s.station)
	next := make(map[uint32]uint64)
	highest := make(map[uint32]parsedKey)
	highestKey := make(map[uint32]string)
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.client.bucket, Prefix: &prefix})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, classify(fmt.Errorf("list s3://%s/%s: %w", s.client.bucket, prefix, err))
		}
		for _, obj := range page.Contents {
			k, ok := parseKey(re, aws.ToString(obj.Key))
			if !ok {
				continue
			}
			if k.hasLast {
				next[k.partition] = max(next[k.partition], k.last+1)
				continue
			}
			if h, ok := highest[k.partition]; !ok || k.first >= h.first {
				highest[k.partition], highestKey[k.partition] = k, aws.ToString(obj.Key)
			}
		}
	}
	// Without {last_offset} in the keys, the object with the highest first
	// offset says in its metadata where it ends.
	for p, key := range highestKey {
		head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.client.bucket, Key: &key})
		if err != nil {
			return nil, classify(fmt.Errorf("head s3://%s/%s: %w", s.client.bucket, key, err))
		}
		last, err := strconv.ParseUint(head.Metadata[metaLastOffset], 10, 64)
		if err != nil {
			return nil, connector.Fatal(fmt.Errorf("s3://%s/%s has no valid %s metadata, so where partition %d ends is unknown: %w", s.client.bucket, key, metaLastOffset, p, err))
		}
		next[p] = max(next[p], last+1)
	}
	return next, nil
}

// Object metadata the sink sets on every object.
const (
	metaStation     = "junction-station"
	metaPartition   = "junction-partition"
	metaFirstOffset = "junction-first-offset"
	metaLastOffset  = "junction-last-offset"
	metaRecords     = "junction-records"
)

// Write buffers the records whose offsets are not buffered or uploaded yet
// and uploads the buffers that reached a flush threshold. A record the
// lines format cannot hold (a value with a newline) is reported in a
// *connector.BatchError.
func (s *sink) Write(ctx context.Context, records []connector.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.parts == nil {
		return connector.Fatal(errors.New("write before open"))
	}
	failed := make(map[int]error)
	for i, r := range records {
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.Offset < s.next[r.Partition] {
			continue
		}
		if s.cfg.Format == "lines" && bytes.ContainsAny(r.Value, "\r\n") {
			failed[i] = fmt.Errorf("record %d/%d: the value has a line break, which format lines cannot hold; use jsonl", r.Partition, r.Offset)
			s.next[r.Partition] = r.Offset + 1
			continue
		}
		b := s.parts[r.Partition]
		if b != nil && s.cfg.Flush.RotateInterval > 0 && r.Timestamp.Sub(b.firstTS) >= s.cfg.Flush.RotateInterval {
			s.detach(b)
			b = nil
		}
		if b == nil {
			b = &buffer{partition: r.Partition, first: r.Offset, firstTS: r.Timestamp, arrived: time.Now()}
			s.parts[r.Partition] = b
		}
		n, err := s.add(b, r)
		if err != nil {
			return connector.Fatal(err)
		}
		s.total += n
		s.next[r.Partition] = r.Offset + 1
		if b.records >= s.cfg.Flush.MaxRecords || b.size >= int64(s.cfg.Flush.MaxBytes) {
			s.detach(b)
		}
		for s.total > int64(s.cfg.MaxBufferBytes) {
			if err := s.upload(ctx); err != nil {
				return err
			}
			if s.total > int64(s.cfg.MaxBufferBytes) {
				s.detach(s.largest())
			}
		}
	}
	if !s.cfg.Flush.AcrossWrites {
		for _, b := range s.parts {
			s.detach(b)
		}
		if err := s.upload(ctx); err != nil {
			return err
		}
	} else if err := s.flushDue(ctx, time.Now()); err != nil {
		return err
	}
	if len(failed) > 0 {
		return &connector.BatchError{Failed: failed}
	}
	return nil
}

// add appends r to b and returns the bytes it takes.
func (s *sink) add(b *buffer, r connector.Record) (int64, error) {
	var n int64
	switch s.cfg.Format {
	case "parquet":
		b.rows = append(b.rows, toRow(r))
		n = rowSize(r)
		if s.typed != nil {
			b.typed = append(b.typed, s.typed.decode(r.Value))
		}
	case "lines":
		b.data = append(append(b.data, r.Value...), '\n')
		n = int64(len(r.Value) + 1)
	default:
		size := len(b.data)
		b.data = jsonl.Append(b.data, s.station, r)
		n = int64(len(b.data) - size)
	}
	b.records++
	b.size += n
	b.last = r.Offset
	return n, nil
}

func (s *sink) largest() *buffer {
	var big *buffer
	for _, b := range s.parts {
		if big == nil || b.size > big.size {
			big = b
		}
	}
	return big
}

// flushDue uploads the queued buffers and those older than
// wall_clock_interval.
func (s *sink) flushDue(ctx context.Context, now time.Time) error {
	for _, b := range s.parts {
		if s.cfg.Flush.WallClockInterval > 0 && now.Sub(b.arrived) >= s.cfg.Flush.WallClockInterval {
			s.detach(b)
		}
	}
	return s.upload(ctx)
}

// flushByWallClock uploads buffers that are due while no Write comes.
func (s *sink) flushByWallClock(log *slog.Logger, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(min(s.cfg.Flush.WallClockInterval/4+time.Millisecond, time.Second))
	defer tick.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-stop
		cancel()
	}()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			s.mu.Lock()
			err := s.flushDue(ctx, now)
			s.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				log.Warn("wall-clock flush failed; retrying", "error", err)
			}
		}
	}
}

// put uploads b as one object.
func (s *sink) put(ctx context.Context, b *buffer) error {
	var body []byte
	var err error
	if s.typed != nil {
		body, err = s.typed.encode(b.rows, b.typed, parquetCodec(s.cfg.Compression))
	} else if s.cfg.Format == "parquet" {
		body, err = encodeParquet(b.rows, s.cfg.Compression)
	} else {
		body, err = compress(b.data, s.cfg.Compression)
	}
	key := s.tmpl.render(keyFields{
		prefix: s.cfg.Prefix, station: s.station, ext: s.ext,
		partition: b.partition, first: b.first, last: b.last, time: b.firstTS,
	})
	if err != nil {
		return connector.Fatal(fmt.Errorf("encode s3://%s/%s: %w", s.client.bucket, key, err))
	}
	_, err = s.up.Upload(ctx, &s3.PutObjectInput{
		Bucket:      &s.client.bucket,
		Key:         &key,
		Body:        bytes.NewReader(body),
		ContentType: aws.String(contentType(s.cfg.Format)),
		Metadata: map[string]string{
			metaStation:     s.station,
			metaPartition:   strconv.FormatUint(uint64(b.partition), 10),
			metaFirstOffset: strconv.FormatUint(b.first, 10),
			metaLastOffset:  strconv.FormatUint(b.last, 10),
			metaRecords:     strconv.Itoa(b.records),
		},
	})
	if err != nil {
		return classify(fmt.Errorf("upload s3://%s/%s: %w", s.client.bucket, key, err))
	}
	return nil
}

func contentType(format string) string {
	switch format {
	case "parquet":
		return "application/vnd.apache.parquet"
	case "lines":
		return "text/plain; charset=utf-8"
	}
	return "application/x-ndjson"
}

// Teardown uploads every buffer. Whatever fails to upload is delivered
// again after the next Open.
func (s *sink) Teardown(ctx context.Context) error {
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.stop = nil
	}
	if s.client == nil {
		return nil
	}
	defer s.client.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.parts {
		s.detach(b)
	}
	return s.upload(ctx)
}
