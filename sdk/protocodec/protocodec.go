// Package protocodec is connect's protobuf binary codec with hooks for a
// faster decoder of the few messages a program reads most and a faster
// encoder of those it writes most. Junction's broker decodes produce
// requests and encodes their answers with it, and the Go client decodes
// the producer's answers; every other message, and whatever the fast
// decoder or encoder declines, goes through proto.Unmarshal or
// proto.Marshal, so results and errors stay the generic codec's.
package protocodec

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Codec implements connect.Codec under the name "proto", replacing
// connect's own protobuf binary codec.
type Codec struct {
	// Decode decodes data into m when it can, reporting whether it did;
	// when it did not, m is decoded by proto.Unmarshal. Nil decodes
	// everything with proto.Unmarshal.
	Decode func(data []byte, m any) (bool, error)
	// Encode appends the encoding of m to dst when it can, reporting
	// whether it did; it must then produce exactly what proto.Marshal
	// would. When it did not, m is encoded by proto.Marshal. Nil encodes
	// everything with proto.Marshal.
	Encode func(dst []byte, m any) ([]byte, bool)
}

// Name is the codec's name, "proto".
func (Codec) Name() string { return "proto" }

// IsBinary reports that the codec is binary.
func (Codec) IsBinary() bool { return true }

// Marshal encodes m, a proto.Message.
func (c Codec) Marshal(m any) ([]byte, error) { return c.MarshalAppend(nil, m) }

// MarshalAppend appends the encoding of m, a proto.Message, to dst, with
// Encode or else proto.Marshal.
func (c Codec) MarshalAppend(dst []byte, m any) ([]byte, error) {
	if c.Encode != nil {
		if out, done := c.Encode(dst, m); done {
			return out, nil
		}
	}
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return proto.MarshalOptions{}.MarshalAppend(dst, pm)
}

// MarshalStable encodes m, a proto.Message, deterministically.
func (Codec) MarshalStable(m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(pm)
}

// Unmarshal decodes data into m with Decode, or else proto.Unmarshal.
func (c Codec) Unmarshal(data []byte, m any) error {
	if c.Decode != nil {
		if done, err := c.Decode(data, m); done || err != nil {
			return err
		}
	}
	pm, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("%T is not a protobuf message", m)
	}
	if err := proto.Unmarshal(data, pm); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", m, err)
	}
	return nil
}

// Field numbers of ProduceStreamResponse and of its ProduceResult
// (api/junction/v1/junction.proto), for the hand-written codecs on the
// two sides of ProduceStream: the broker's encoder and the client's
// decoder.
const (
	ProduceResponseSequence = 1
	ProduceResponseResults  = 2

	ResultPartition    = 1
	ResultOffset       = 2
	ResultDuplicate    = 3
	ResultRejected     = 4
	ResultDeadLettered = 5
)
