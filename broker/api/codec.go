package api

import (
	"fmt"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/junctionhq/junction/broker/seglog"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/protocodec"
)

// produceCodec is connect's protobuf binary codec with a fast decoder for
// produce requests (and a fast encoder of their answers, encodeProduce).
// The generic decoder allocates a Message, a key and a value per message,
// about 330 B for a 128 B message; this one decodes a request into a few
// slabs sized in a first pass over it: the Messages,
// their pointers, one arena for every key, value and header value (a copy:
// connect recycles the buffer data came in), one string for the station
// and header keys and one for the ids. ProduceStream receives into a
// streamRequest, whose slabs are pooled and reused request to request.
//
// Anything the fast decoder does not expect (a field it does not know, a
// known field with another wire type, a string that is not UTF-8, a
// malformed varint) sends the request to proto.Unmarshal (see protocodec),
// so the result and the errors are always the generic decoder's.
var produceCodec = protocodec.Codec{Decode: decodeProduce, Encode: encodeProduce}

// decodeProduce is produceCodec's fast decoder.
func decodeProduce(data []byte, m any) (bool, error) {
	switch m := m.(type) {
	case *streamRequest:
		return true, m.unmarshal(data)
	case *v1.ProduceStreamRequest:
		var r produceFields
		if r.decode(data, 1, 2, 3, nil) {
			m.Reset()
			m.Sequence, m.Station, m.Messages = r.seq, r.station, r.msgs
			return true, nil
		}
	case *v1.ProduceRequest:
		var r produceFields
		if r.decode(data, 0, 1, 2, nil) {
			m.Reset()
			m.Station, m.Messages = r.station, r.msgs
			return true, nil
		}
	}
	return false, nil
}

// Field numbers of Message and Header (api/junction/v1/junction.proto).
const (
	msgKey     = 1
	msgValue   = 2
	msgHeaders = 3
	msgID      = 4
	hdrKey     = 1
	hdrValue   = 2
)

// produceFields is a decoded produce request.
type produceFields struct {
	seq     uint64
	station string
	msgs    []*v1.Message

	// Sizes found by the first pass.
	nmsgs, nhdrs, nbytes, nstr, nids, nstrs int
}

// decode decodes a ProduceStreamRequest (seqField 1) or a ProduceRequest
// (seqField 0: none) from data into s, reusing what it holds, or into new
// slabs when s is nil. It reports false, having filled nothing the caller
// sees, when data holds anything it does not handle exactly as
// proto.Unmarshal would.
func (r *produceFields) decode(data []byte, seqField, stationField, msgsField protowire.Number, s *slabs) bool {
	if !r.walk(data, seqField, stationField, msgsField, nil) {
		return false
	}
	if s == nil {
		s = new(slabs)
	}
	s.msgs = resize(s.msgs, r.nmsgs)
	s.hdrs = resize(s.hdrs, r.nhdrs)
	s.msgPtrs = resize(s.msgPtrs, r.nmsgs)[:0]
	s.hdrPtrs = resize(s.hdrPtrs, r.nhdrs)[:0]
	s.bytes = resize(s.bytes, r.nbytes)[:0]
	s.str = resize(s.str, r.nstr)[:0]
	s.ids = resize(s.ids, r.nids)[:0]
	s.strs = resize(s.strs, r.nstrs)[:0]
	r.msgs = s.msgPtrs
	ok := r.walk(data, seqField, stationField, msgsField, s)
	s.finish()
	return ok
}

// resize returns b with length n, reusing its array when it is large
// enough. The caller sees to it that a reused array holds zero values
// where that matters (slabs.release).
func resize[T any](b []T, n int) []T {
	if cap(b) >= n {
		return b[:n]
	}
	return make([]T, n)
}

// slabs are what the second pass fills.
type slabs struct {
	msgs    []v1.Message
	msgPtrs []*v1.Message
	hdrs    []v1.Header
	hdrPtrs []*v1.Header
	bytes   []byte // keys, values and header values, back to back
	str     []byte // the station and header keys, back to back
	// ids are the message ids, apart from str: the dedup index keeps ids
	// for its window, and with them the string they point into.
	ids []byte
	// strs are the string fields to point into str once it is complete:
	// each is set to the substring str[from:to].
	strs []strRef
}

type strRef struct {
	dst      *string
	from, to int
	id       bool // in ids, not str
}

// bytesField copies b into the arena; like proto.Unmarshal, an empty field
// is nil.
func (s *slabs) bytesField(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	n := len(s.bytes)
	s.bytes = append(s.bytes, b...)
	return s.bytes[n:len(s.bytes):len(s.bytes)]
}

func (s *slabs) stringField(dst *string, b []byte) {
	n := len(s.str)
	s.str = append(s.str, b...)
	s.strs = append(s.strs, strRef{dst, n, len(s.str), false})
}

func (s *slabs) idField(dst *string, b []byte) {
	n := len(s.ids)
	s.ids = append(s.ids, b...)
	s.strs = append(s.strs, strRef{dst, n, len(s.ids), true})
}

// finish converts the string arenas to strings and points the string
// fields into them.
func (s *slabs) finish() {
	str, ids := string(s.str), string(s.ids)
	for _, r := range s.strs {
		if r.id {
			*r.dst = ids[r.from:r.to]
		} else {
			*r.dst = str[r.from:r.to]
		}
	}
}

// walk goes over a produce request. Without s it checks that every field is
// one it handles and counts what decode must allocate; with s it fills r
// from the slabs.
func (r *produceFields) walk(b []byte, seqField, stationField, msgsField protowire.Number, s *slabs) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch {
		case seqField != 0 && num == seqField && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			r.seq = v
		case num == stationField && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || !utf8.Valid(v) {
				return false
			}
			b = b[n:]
			if s == nil {
				r.nstr += len(v)
				r.nstrs++
			} else {
				s.stringField(&r.station, v)
			}
		case num == msgsField && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			if s == nil {
				r.nmsgs++
				if !r.walkMessage(v, nil) {
					return false
				}
				continue
			}
			// msgPtrs never grows past the capacity the first pass
			// gave it.
			m := &s.msgs[len(r.msgs)]
			r.msgs = append(r.msgs, m)
			if !r.walkMessage(v, s) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func (r *produceFields) walkMessage(b []byte, s *slabs) bool {
	var m *v1.Message
	var hstart int
	if s != nil {
		m = r.msgs[len(r.msgs)-1]
	}
	for len(b) > 0 {
		num, v, rest, ok := bytesField(b)
		if !ok {
			return false
		}
		b = rest
		switch num {
		case msgKey, msgValue:
			if s == nil {
				r.nbytes += len(v)
			} else if num == msgKey {
				m.Key = s.bytesField(v)
			} else {
				m.Value = s.bytesField(v)
			}
		case msgID:
			if !utf8.Valid(v) {
				return false
			}
			if s == nil {
				r.nids += len(v)
				r.nstrs++
			} else {
				s.idField(&m.Id, v)
			}
		case msgHeaders:
			if s == nil {
				r.nhdrs++
			} else {
				if m.Headers == nil {
					hstart = len(s.hdrPtrs)
				}
				// The headers of one message are consecutive in hdrPtrs,
				// which never grows past the capacity the first pass gave it.
				s.hdrPtrs = append(s.hdrPtrs, &s.hdrs[len(s.hdrPtrs)])
				m.Headers = s.hdrPtrs[hstart:len(s.hdrPtrs):len(s.hdrPtrs)]
			}
			if !r.walkHeader(v, s) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func (r *produceFields) walkHeader(b []byte, s *slabs) bool {
	var h *v1.Header
	if s != nil {
		h = s.hdrPtrs[len(s.hdrPtrs)-1]
	}
	for len(b) > 0 {
		num, v, rest, ok := bytesField(b)
		if !ok {
			return false
		}
		b = rest
		switch num {
		case hdrKey:
			if !utf8.Valid(v) {
				return false
			}
			if s == nil {
				r.nstr += len(v)
				r.nstrs++
			} else {
				s.stringField(&h.Key, v)
			}
		case hdrValue:
			if s == nil {
				r.nbytes += len(v)
			} else {
				h.Value = s.bytesField(v)
			}
		default:
			return false
		}
	}
	return true
}

// streamRequest is what ProduceStream receives into: a ProduceStreamRequest
// (which the JSON codec and the interceptors see through the embedded
// pointer) whose messages, when the fast decoder took it, live in slabs
// from slabPool. release hands them back for the next request of any
// stream; that is safe once the request was given to ProduceAsync, which
// copies what it keeps.
//
// A request whose messages have no headers and no ids (what producers
// send most) is decoded further: its messages go straight into built, in
// the segment log's encoding, and Messages stays empty. Their keys and
// values are copied once, from connect's buffer into the batch the log
// writes (see broker.ProduceBuiltAsync).
type streamRequest struct {
	*v1.ProduceStreamRequest
	s *slabs
	// built holds the messages of a request decoded into a batch, from
	// builderPool; nil otherwise. Like the slabs, it goes back to the pool
	// with release, so an idle stream holds no buffer.
	built *seglog.BatchBuilder
	// wireBytes is the size of the encoding the request was decoded from,
	// or 0 when another codec (JSON) decoded it.
	wireBytes int
}

// slabPool holds slabs between produce requests.
var slabPool = sync.Pool{New: func() any { return new(slabs) }}

// builderPool holds batch builders between produce requests.
var builderPool = sync.Pool{New: func() any { return new(seglog.BatchBuilder) }}

// maxPooledSlab bounds the arena of a pooled slab; a larger request's
// slabs are left to the garbage collector.
const maxPooledSlab = 4 << 20

// release drops the request's messages and returns its slabs and batch
// builder to their pools.
// Nothing may use the messages afterwards.
func (r *streamRequest) release() {
	r.ProduceStreamRequest.Reset()
	r.wireBytes = 0
	if b := r.built; b != nil {
		r.built = nil
		b.Reset()
		if b.Cap() <= maxPooledSlab {
			builderPool.Put(b)
		}
	}
	s := r.s
	if s == nil {
		return
	}
	r.s = nil
	if cap(s.bytes) > maxPooledSlab || cap(s.msgs) > maxPooledSlab/64 || cap(s.hdrs) > maxPooledSlab/64 {
		return
	}
	clear(s.msgs[:cap(s.msgs)])
	clear(s.hdrs[:cap(s.hdrs)])
	clear(s.msgPtrs[:cap(s.msgPtrs)])
	clear(s.hdrPtrs[:cap(s.hdrPtrs)])
	clear(s.strs[:cap(s.strs)])
	slabPool.Put(s)
}

// unmarshal decodes data into r, with the fast decoder and pooled slabs
// when it can.
func (r *streamRequest) unmarshal(data []byte) error {
	station := r.Station // kept across release, to reuse the string
	r.release()
	if r.build(data, station) {
		r.wireBytes = len(data)
		return nil
	}
	r.release()
	s := slabPool.Get().(*slabs)
	var f produceFields
	if f.decode(data, 1, 2, 3, s) {
		r.Sequence, r.Station, r.Messages = f.seq, f.station, f.msgs
		r.s, r.wireBytes = s, len(data)
		return nil
	}
	slabPool.Put(s)
	if err := proto.Unmarshal(data, r.ProduceStreamRequest); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", r.ProduceStreamRequest, err)
	}
	r.wireBytes = len(data)
	return nil
}

// build decodes data into r.built in one pass when it is a request
// whose messages have no headers and no ids, and reports whether it was;
// anything else (headers, ids, no messages, whatever the slab decoder or
// proto.Unmarshal must judge) makes it give up, leaving r to be released.
// station is the station of the stream's previous request, whose string
// is reused when this one names the same.
func (r *streamRequest) build(data []byte, station string) bool {
	if r.built == nil {
		r.built = builderPool.Get().(*seglog.BatchBuilder)
	}
	// A record takes about the bytes of its message on the wire.
	r.built.Grow(0, len(data)+len(data)/4)
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return false
		}
		data = data[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(data)
			if n < 0 {
				return false
			}
			data = data[n:]
			r.Sequence = v
		case num == 2 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(data)
			if n < 0 || !utf8.Valid(v) {
				return false
			}
			data = data[n:]
			if string(v) != station {
				station = string(v)
			}
			r.Station = station
		case num == 3 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(data)
			if n < 0 {
				return false
			}
			data = data[n:]
			// Like proto.Unmarshal, the last key and value win and an
			// empty one is nil; an empty id is no id.
			var key, value []byte
			for len(v) > 0 {
				num, b, rest, ok := bytesField(v)
				if !ok || num == msgHeaders || num == msgID && len(b) > 0 {
					return false
				}
				switch num {
				case msgKey:
					key = b
				case msgValue:
					value = b
				case msgID:
				default:
					return false
				}
				v = rest
			}
			if len(key) == 0 {
				key = nil
			}
			if len(value) == 0 {
				value = nil
			}
			r.built.Add(key, value)
		default:
			return false
		}
	}
	return r.built.Len() > 0
}

// bytesField consumes the length-delimited field b starts with: its
// number, its bytes and the rest of b; ok is false when b does not start
// with one.
func bytesField(b []byte) (num protowire.Number, v, rest []byte, ok bool) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || typ != protowire.BytesType {
		return 0, nil, nil, false
	}
	v, m := protowire.ConsumeBytes(b[n:])
	if m < 0 {
		return 0, nil, nil, false
	}
	return num, v, b[n+m:], true
}
