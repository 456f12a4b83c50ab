package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"

	"github.com/junctionhq/junction/sdk/connector"
)

// parquetRow is one record in a Parquet object. Timestamp is nanoseconds
// since the Unix epoch, null for a record without one.
type parquetRow struct {
	Partition uint32          `parquet:"partition"`
	Offset    uint64          `parquet:"offset"`
	Timestamp *int64          `parquet:"timestamp,optional,timestamp(nanosecond)"`
	Key       []byte          `parquet:"key,optional"`
	Value     []byte          `parquet:"value"`
	Headers   []parquetHeader `parquet:"headers,list"`
}

// parquetHeader is one record header in a Parquet object.
type parquetHeader struct {
	Key   string `parquet:"key"`
	Value []byte `parquet:"value"`
}

func toRow(r connector.Record) parquetRow {
	row := parquetRow{Partition: r.Partition, Offset: r.Offset, Key: bytes.Clone(r.Key), Value: bytes.Clone(r.Value)}
	if row.Value == nil {
		row.Value = []byte{}
	}
	if !r.Timestamp.IsZero() {
		ns := r.Timestamp.UnixNano()
		row.Timestamp = &ns
	}
	for _, h := range r.Headers {
		row.Headers = append(row.Headers, parquetHeader{Key: h.Key, Value: bytes.Clone(h.Value)})
	}
	return row
}

func (row parquetRow) record() connector.Record {
	r := connector.Record{Partition: row.Partition, Offset: row.Offset, Key: row.Key, Value: row.Value}
	if row.Timestamp != nil {
		r.Timestamp = time.Unix(0, *row.Timestamp).UTC()
	}
	for _, h := range row.Headers {
		r.Headers = append(r.Headers, connector.Header{Key: h.Key, Value: h.Value})
	}
	return r
}

// rowSize estimates the memory a buffered row holds.
func rowSize(r connector.Record) int64 {
	n := int64(len(r.Key) + len(r.Value) + 64)
	for _, h := range r.Headers {
		n += int64(len(h.Key) + len(h.Value) + 32)
	}
	return n
}

// encodeParquet writes rows as a Parquet file with the column compression
// codec named by compression.
func encodeParquet(rows []parquetRow, compression string) ([]byte, error) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[parquetRow](&buf, parquetCodec(compression))
	if _, err := w.Write(rows); err != nil {
		return nil, fmt.Errorf("encode parquet: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encode parquet: %w", err)
	}
	return buf.Bytes(), nil
}

// parquetCodec is the column codec option of compression.
func parquetCodec(compression string) parquet.WriterOption {
	switch compression {
	case "gzip":
		return parquet.Compression(&parquet.Gzip)
	case "zstd":
		return parquet.Compression(&parquet.Zstd)
	}
	return parquet.Compression(&parquet.Uncompressed)
}

// compress returns data compressed with compression (none, gzip, zstd).
func compress(data []byte, compression string) ([]byte, error) {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch compression {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "zstd":
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer enc.Close()
		return enc.EncodeAll(data, make([]byte, 0, len(data)/4)), nil
	default:
		return data, nil
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decompressor wraps r to decompress compression (none, gzip, zstd).
func decompressor(r io.Reader, compression string) (io.ReadCloser, error) {
	switch compression {
	case "gzip":
		return gzip.NewReader(r)
	case "zstd":
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return io.NopCloser(r), nil
}

// extension is the file extension of a format and compression.
func extension(format, compression string) string {
	switch format {
	case "parquet":
		return "parquet"
	case "lines":
		format = "txt"
	}
	switch compression {
	case "gzip":
		return format + ".gz"
	case "zstd":
		return format + ".zst"
	}
	return format
}

// detect guesses format and compression from a key's extension: .gz and
// .zst/.zstd mean gzip and zstd; .parquet Parquet; .jsonl, .ndjson and
// .json JSON lines; anything else raw lines.
func detect(key string) (format, compression string) {
	name := strings.ToLower(key)
	compression = "none"
	switch {
	case strings.HasSuffix(name, ".gz"):
		compression, name = "gzip", strings.TrimSuffix(name, ".gz")
	case strings.HasSuffix(name, ".zst"):
		compression, name = "zstd", strings.TrimSuffix(name, ".zst")
	case strings.HasSuffix(name, ".zstd"):
		compression, name = "zstd", strings.TrimSuffix(name, ".zstd")
	}
	switch {
	case strings.HasSuffix(name, ".parquet"):
		return "parquet", "none"
	case strings.HasSuffix(name, ".jsonl"), strings.HasSuffix(name, ".ndjson"), strings.HasSuffix(name, ".json"):
		return "jsonl", compression
	}
	return "lines", compression
}
