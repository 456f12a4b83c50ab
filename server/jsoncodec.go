package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// apiJSON is the JSON encoding of the API: the proto field names
// (snake_case, as the CLI's -o json prints them) with zero numbers, empty
// strings and false emitted, so offset 0 and partition 0 are not left out.
// Unset timestamps are still omitted. Requests may use either the proto
// names or their lowerCamelCase form.
var apiJSON = protojson.MarshalOptions{UseProtoNames: true, EmitDefaultValues: true}

// jsonCodec is connect's JSON codec with [apiJSON] output.
type jsonCodec struct{ name string }

// jsonCodecs replaces connect's JSON codecs, under both names a client may
// ask for.
func jsonCodecs() []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithCodec(jsonCodec{"json"}),
		connect.WithCodec(jsonCodec{"json; charset=utf-8"}),
	}
}

func (c jsonCodec) Name() string { return c.name }

func (c jsonCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("marshal %T: not a proto message", v)
	}
	return apiJSON.Marshal(m)
}

// MarshalStable is Marshal, compacted: protojson varies its whitespace.
func (c jsonCodec) MarshalStable(v any) ([]byte, error) {
	b, err := c.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (c jsonCodec) Unmarshal(b []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("unmarshal into %T: not a proto message", v)
	}
	if len(b) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, m); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", v, err)
	}
	return nil
}

func (c jsonCodec) IsBinary() bool { return false }
