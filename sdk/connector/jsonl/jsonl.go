// Package jsonl is the JSON lines encoding of records that Junction's file
// and S3 connectors write and read: one object per record with station,
// partition, offset, timestamp, key, headers and value. Connectors that
// exchange data with them can use it too.
package jsonl

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/junctionhq/junction/sdk/connector"
)

// line is one record in a JSON lines file.
//
// Key, value and header values are embedded as JSON when they are valid
// JSON other than a JSON string (whitespace is compacted), else as a string
// when valid UTF-8, else base64 with the matching *_encoding field set to
// "base64". An empty value is null.
type line struct {
	Station       string          `json:"station,omitempty"`
	Partition     uint32          `json:"partition"`
	Offset        uint64          `json:"offset"`
	Timestamp     string          `json:"timestamp,omitempty"`
	Key           json.RawMessage `json:"key,omitempty"`
	KeyEncoding   string          `json:"key_encoding,omitempty"`
	Headers       []header        `json:"headers,omitempty"`
	Value         json.RawMessage `json:"value"`
	ValueEncoding string          `json:"value_encoding,omitempty"`
}

type header struct {
	Key           string          `json:"key"`
	Value         json.RawMessage `json:"value"`
	ValueEncoding string          `json:"value_encoding,omitempty"`
}

// Encode renders r as one JSON line, newline included. The error is
// always nil; it is kept for callers written against earlier versions.
func Encode(station string, r connector.Record) ([]byte, error) {
	return Append(nil, station, r), nil
}

// Decode parses a line written by Encode (a trailing newline is allowed).
func Decode(b []byte) (connector.Record, error) {
	var l line
	if err := json.Unmarshal(b, &l); err != nil {
		return connector.Record{}, err
	}
	return l.record()
}

func (l line) record() (connector.Record, error) {
	r := connector.Record{Partition: l.Partition, Offset: l.Offset}
	var err error
	if l.Timestamp != "" {
		if r.Timestamp, err = time.Parse(time.RFC3339Nano, l.Timestamp); err != nil {
			return r, fmt.Errorf("timestamp: %w", err)
		}
	}
	if r.Key, err = unembed(l.Key, l.KeyEncoding); err != nil {
		return r, fmt.Errorf("key: %w", err)
	}
	if r.Value, err = unembed(l.Value, l.ValueEncoding); err != nil {
		return r, fmt.Errorf("value: %w", err)
	}
	for _, h := range l.Headers {
		v, err := unembed(h.Value, h.ValueEncoding)
		if err != nil {
			return r, fmt.Errorf("header %s: %w", h.Key, err)
		}
		r.Headers = append(r.Headers, connector.Header{Key: h.Key, Value: v})
	}
	return r, nil
}

func unembed(raw json.RawMessage, encoding string) ([]byte, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '"' {
		return []byte(raw), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	switch encoding {
	case "":
		return []byte(s), nil
	case "base64":
		return base64.StdEncoding.DecodeString(s)
	}
	return nil, fmt.Errorf("unknown encoding %q", encoding)
}
