package schema

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
)

// avroValidator checks the Avro binary encoding of one datum by walking
// the schema over the bytes: nothing is decoded into Go values, so a valid
// message costs no allocation.
type avroValidator struct {
	sch avro.Schema
}

func compileAvro(f File) (v validator, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, &CompileError{Type: Avro, File: f.Name, Err: fmt.Errorf("schema cannot be parsed: %v", r)}
		}
	}()
	// A cache per schema: named types of one schema never leak into
	// another, as they would through the library's global cache.
	sch, err := avro.ParseBytesWithCache(f.Content, "", &avro.SchemaCache{})
	if err != nil {
		return nil, &CompileError{Type: Avro, File: f.Name, Err: err}
	}
	return &avroValidator{sch: sch}, nil
}

func (v *avroValidator) validate(data []byte) error {
	r := avroReader{buf: data, budget: maxItems}
	if err := r.value(v.sch, 0); err != nil {
		return err
	}
	if r.pos != len(data) {
		return &ValidationError{Rule: "trailing-bytes", Reason: fmt.Sprintf("%d bytes left after the datum ended at byte %d", len(data)-r.pos, r.pos)}
	}
	return nil
}

// maxItems bounds the array and map items one message may declare, so a
// few bytes claiming billions of empty items cannot spin the broker.
const maxItems = 1 << 24

type avroReader struct {
	buf    []byte
	pos    int
	budget int64
}

func avroErr(rule, format string, args ...any) *ValidationError {
	return &ValidationError{Rule: rule, Reason: fmt.Sprintf(format, args...)}
}

// under prefixes the path of a validation error with token.
func under(err error, token string) error {
	if ve, ok := err.(*ValidationError); ok {
		ve.Path = jsonPointer("", token) + ve.Path
	}
	return err
}

func (r *avroReader) long() (int64, error) {
	var u uint64
	for shift := uint(0); ; shift += 7 {
		if r.pos >= len(r.buf) {
			return 0, avroErr("truncated", "the message ends inside a number at byte %d", r.pos)
		}
		if shift >= 64 {
			return 0, avroErr("varint", "number at byte %d is longer than 10 bytes", r.pos)
		}
		b := r.buf[r.pos]
		r.pos++
		u |= uint64(b&0x7f) << shift
		if b < 0x80 {
			break
		}
	}
	return int64(u>>1) ^ -int64(u&1), nil
}

func (r *avroReader) take(n int64, what string) ([]byte, error) {
	if n < 0 {
		return nil, avroErr("length", "negative %s length %d", what, n)
	}
	if n > int64(len(r.buf)-r.pos) {
		return nil, avroErr("truncated", "%s of %d bytes at byte %d runs past the end of the message", what, n, r.pos)
	}
	b := r.buf[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b, nil
}

func (r *avroReader) value(s avro.Schema, depth int) error {
	if depth > maxDepth {
		return avroErr("depth", "nested deeper than %d levels", maxDepth)
	}
	switch s := s.(type) {
	case *avro.RefSchema:
		return r.value(s.Schema(), depth+1)
	case *avro.PrimitiveSchema:
		return r.primitive(s.Type())
	case *avro.NullSchema:
		return nil
	case *avro.RecordSchema:
		for _, f := range s.Fields() {
			if err := r.value(f.Type(), depth+1); err != nil {
				return under(err, f.Name())
			}
		}
		return nil
	case *avro.EnumSchema:
		i, err := r.long()
		if err != nil {
			return err
		}
		if i < 0 || i >= int64(len(s.Symbols())) {
			return avroErr("enum", "symbol index %d of enum %s is out of range (it has %d symbols)", i, s.FullName(), len(s.Symbols()))
		}
		return nil
	case *avro.FixedSchema:
		_, err := r.take(int64(s.Size()), "fixed "+s.FullName())
		return err
	case *avro.UnionSchema:
		i, err := r.long()
		if err != nil {
			return err
		}
		types := s.Types()
		if i < 0 || i >= int64(len(types)) {
			return avroErr("union", "branch index %d is out of range (the union has %d branches)", i, len(types))
		}
		return r.value(types[i], depth+1)
	case *avro.ArraySchema:
		return r.blocks(depth, func(i int64) error {
			if err := r.value(s.Items(), depth+1); err != nil {
				return under(err, strconv.FormatInt(i, 10))
			}
			return nil
		})
	case *avro.MapSchema:
		return r.blocks(depth, func(int64) error {
			n, err := r.long()
			if err != nil {
				return err
			}
			key, err := r.take(n, "map key")
			if err != nil {
				return err
			}
			if !utf8.Valid(key) {
				return avroErr("utf8", "map key is not UTF-8")
			}
			if err := r.value(s.Values(), depth+1); err != nil {
				return under(err, string(key))
			}
			return nil
		})
	}
	return avroErr("type", "unsupported schema type %s", s.Type())
}

// blocks walks the blocks of an array or map, calling item for each item.
func (r *avroReader) blocks(depth int, item func(i int64) error) error {
	var i int64
	for {
		n, err := r.long()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if n < 0 {
			if n == math.MinInt64 {
				return avroErr("length", "block count out of range")
			}
			n = -n
			size, err := r.long()
			if err != nil {
				return err
			}
			if size < 0 || size > int64(len(r.buf)-r.pos) {
				return avroErr("length", "block size %d at byte %d runs past the end of the message", size, r.pos)
			}
		}
		if r.budget -= n; r.budget < 0 {
			return avroErr("length", "more than %d items in one message", maxItems)
		}
		for range n {
			if err := item(i); err != nil {
				return err
			}
			i++
		}
	}
}

func (r *avroReader) primitive(t avro.Type) error {
	switch t {
	case avro.Null:
		return nil
	case avro.Boolean:
		b, err := r.take(1, "boolean")
		if err != nil {
			return err
		}
		if b[0] > 1 {
			return avroErr("type", "boolean byte is %d, not 0 or 1", b[0])
		}
		return nil
	case avro.Int:
		v, err := r.long()
		if err != nil {
			return err
		}
		if v < math.MinInt32 || v > math.MaxInt32 {
			return avroErr("type", "int value %d is out of the 32-bit range", v)
		}
		return nil
	case avro.Long:
		_, err := r.long()
		return err
	case avro.Float:
		_, err := r.take(4, "float")
		return err
	case avro.Double:
		_, err := r.take(8, "double")
		return err
	case avro.Bytes, avro.String:
		n, err := r.long()
		if err != nil {
			return err
		}
		b, err := r.take(n, string(t))
		if err != nil {
			return err
		}
		if t == avro.String && !utf8.Valid(b) {
			return avroErr("utf8", "string is not UTF-8")
		}
		return nil
	}
	return avroErr("type", "unsupported primitive type %s", t)
}
