package schema

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// protoValidator checks the binary encoding of one message by walking its
// fields against tables built once from the descriptor: nothing is
// decoded into Go values, so a valid message costs no allocation.
//
// A message is invalid when its wire format is malformed, a known field
// arrives with a wire type its declared type cannot have, a string is not
// UTF-8 (where the file requires it), an int32 or enum is out of range, a
// nested message is invalid, or a proto2 required field is missing.
// Unknown fields are valid, as in every Protobuf decoder.
type protoValidator struct {
	desc protoreflect.MessageDescriptor
	root *protoMsg
}

type protoMsg struct {
	name     protoreflect.FullName
	fields   map[protowire.Number]*protoField
	required []*protoField // index is the field's bit in a presence mask
}

type protoField struct {
	name     string
	kind     protoreflect.Kind
	wire     protowire.Type
	repeated bool
	packable bool
	utf8     bool
	reqBit   int // -1 unless required
	msg      *protoMsg
}

// maxRequired bounds the proto2 required fields of one message that the
// validator tracks (a presence mask of 64 bits).
const maxRequired = 64

func compileProtobuf(files []File, message string) (validator, error) {
	var (
		desc protoreflect.MessageDescriptor
		err  error
	)
	if len(files) == 1 && !strings.HasSuffix(files[0].Name, ".proto") {
		desc, err = protoFromDescriptorSet(files[0], message)
	} else {
		desc, err = protoFromSources(files, message)
	}
	if err != nil {
		return nil, err
	}
	root, err := buildProtoMsg(desc, make(map[protoreflect.FullName]*protoMsg))
	if err != nil {
		return nil, &CompileError{Type: Protobuf, Err: err}
	}
	return &protoValidator{desc: desc, root: root}, nil
}

func protoFromSources(files []File, message string) (md protoreflect.MessageDescriptor, err error) {
	srcs := make(map[string]string, len(files))
	names := make([]string, 0, len(files))
	for _, f := range files {
		if !strings.HasSuffix(f.Name, ".proto") {
			return nil, &CompileError{Type: Protobuf, File: f.Name, Err: errors.New("give .proto files, or one binary descriptor set alone")}
		}
		srcs[f.Name] = string(f.Content)
		names = append(names, f.Name)
	}
	c := protocompile.Compiler{
		// Imports resolve to the given files and the well-known types
		// only: never to the broker's file system.
		Resolver:       protocompile.WithStandardImports(&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(srcs)}),
		MaxParallelism: 1,
	}
	defer func() {
		if r := recover(); r != nil {
			md, err = nil, &CompileError{Type: Protobuf, Err: fmt.Errorf("files cannot be compiled: %v", r)}
		}
	}()
	compiled, err := c.Compile(context.Background(), names...)
	if err != nil {
		return nil, &CompileError{Type: Protobuf, Err: err}
	}
	d, err := compiled.AsResolver().FindDescriptorByName(protoreflect.FullName(message))
	return messageDescriptor(d, err, message)
}

func protoFromDescriptorSet(f File, message string) (protoreflect.MessageDescriptor, error) {
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(f.Content, &set); err != nil {
		return nil, &CompileError{Type: Protobuf, File: f.Name, Err: fmt.Errorf("not a .proto file (name it *.proto) nor a binary FileDescriptorSet: %w", err)}
	}
	reg, err := protodesc.NewFiles(&set)
	if err != nil {
		return nil, &CompileError{Type: Protobuf, File: f.Name, Err: fmt.Errorf("descriptor set (build it with --include_imports): %w", err)}
	}
	d, err := reg.FindDescriptorByName(protoreflect.FullName(message))
	return messageDescriptor(d, err, message)
}

func messageDescriptor(d protoreflect.Descriptor, err error, message string) (protoreflect.MessageDescriptor, error) {
	if err != nil {
		return nil, &CompileError{Type: Protobuf, Err: fmt.Errorf("message %q is not defined in the files given (use its full name, package included)", message)}
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, &CompileError{Type: Protobuf, Err: fmt.Errorf("%q is not a message", message)}
	}
	return md, nil
}

func buildProtoMsg(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]*protoMsg) (*protoMsg, error) {
	if m, ok := seen[md.FullName()]; ok {
		return m, nil
	}
	fds := md.Fields()
	m := &protoMsg{name: md.FullName(), fields: make(map[protowire.Number]*protoField, fds.Len())}
	seen[md.FullName()] = m
	for i := range fds.Len() {
		fd := fds.Get(i)
		f := &protoField{
			name:     string(fd.Name()),
			kind:     fd.Kind(),
			wire:     wireType(fd.Kind()),
			repeated: fd.Cardinality() == protoreflect.Repeated,
			utf8:     fd.Kind() == protoreflect.StringKind && requiresUTF8(fd),
			reqBit:   -1,
		}
		f.packable = f.repeated && f.wire != protowire.BytesType && f.wire != protowire.StartGroupType
		if fd.Cardinality() == protoreflect.Required {
			if len(m.required) == maxRequired {
				return nil, fmt.Errorf("message %s has more than %d required fields", md.FullName(), maxRequired)
			}
			f.reqBit = len(m.required)
			m.required = append(m.required, f)
		}
		if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
			sub, err := buildProtoMsg(fd.Message(), seen)
			if err != nil {
				return nil, err
			}
			f.msg = sub
		}
		m.fields[fd.Number()] = f
	}
	return m, nil
}

// requiresUTF8 reports whether a string field must hold UTF-8: proto3
// and editions by default, proto2 never.
func requiresUTF8(fd protoreflect.FieldDescriptor) bool {
	if fd.ParentFile() != nil && fd.ParentFile().Syntax() == protoreflect.Proto2 {
		return false
	}
	if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetFeatures().GetUtf8Validation() == descriptorpb.FeatureSet_NONE {
		return false
	}
	return true
}

func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
		protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	}
	return protowire.BytesType
}

func (v *protoValidator) validate(data []byte) error {
	return v.root.check(data, 0)
}

func protoErr(rule, format string, args ...any) *ValidationError {
	return &ValidationError{Rule: rule, Reason: fmt.Sprintf(format, args...)}
}

func wireErr(n int, what string) *ValidationError {
	return protoErr("wire-format", "malformed %s: %v", what, protowire.ParseError(n))
}

func (m *protoMsg) check(b []byte, depth int) error {
	if depth > maxDepth {
		return protoErr("depth", "nested deeper than %d levels", maxDepth)
	}
	var present uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return wireErr(n, "field tag")
		}
		b = b[n:]
		f := m.fields[num]
		if f == nil {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return under(wireErr(n, "unknown field "+strconv.Itoa(int(num))), strconv.Itoa(int(num)))
			}
			b = b[n:]
			continue
		}
		var err error
		if typ == f.wire {
			n, err = f.value(num, b, depth)
		} else if typ == protowire.BytesType && f.packable {
			n, err = f.packed(b)
		} else {
			return under(protoErr("wire-type", "%s field %s arrived with wire type %s", f.kind, f.name, wireName(typ)), f.name)
		}
		if err != nil {
			return under(err, f.name)
		}
		b = b[n:]
		if f.reqBit >= 0 {
			present |= 1 << f.reqBit
		}
	}
	if want := uint64(1)<<len(m.required) - 1; present != want {
		for i, f := range m.required {
			if present&(1<<i) == 0 {
				return under(protoErr("required", "required field %s of %s is missing", f.name, m.name), f.name)
			}
		}
	}
	return nil
}

// value checks one value of f's own wire type and returns its length.
func (f *protoField) value(num protowire.Number, b []byte, depth int) (int, error) {
	switch f.wire {
	case protowire.VarintType:
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return 0, wireErr(n, "varint")
		}
		return n, f.checkVarint(v)
	case protowire.Fixed32Type:
		_, n := protowire.ConsumeFixed32(b)
		if n < 0 {
			return 0, wireErr(n, "fixed32")
		}
		return n, nil
	case protowire.Fixed64Type:
		_, n := protowire.ConsumeFixed64(b)
		if n < 0 {
			return 0, wireErr(n, "fixed64")
		}
		return n, nil
	case protowire.StartGroupType:
		v, n := protowire.ConsumeGroup(num, b)
		if n < 0 {
			return 0, wireErr(n, "group")
		}
		return n, f.msg.check(v, depth+1)
	}
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return 0, wireErr(n, "length-delimited value")
	}
	switch {
	case f.msg != nil:
		return n, f.msg.check(v, depth+1)
	case f.utf8 && !utf8.Valid(v):
		return 0, protoErr("utf8", "string is not UTF-8")
	}
	return n, nil
}

func (f *protoField) checkVarint(v uint64) error {
	switch f.kind {
	case protoreflect.Int32Kind, protoreflect.EnumKind:
		if s := int64(v); s < math.MinInt32 || s > math.MaxInt32 {
			return protoErr("range", "%s value %d is out of the 32-bit range", f.kind, s)
		}
	case protoreflect.Uint32Kind:
		if v > math.MaxUint32 {
			return protoErr("range", "uint32 value %d is out of range", v)
		}
	case protoreflect.Sint32Kind:
		if s := protowire.DecodeZigZag(v); s < math.MinInt32 || s > math.MaxInt32 {
			return protoErr("range", "sint32 value %d is out of range", s)
		}
	}
	return nil
}

// packed checks a packed run of scalars and returns its length.
func (f *protoField) packed(b []byte) (int, error) {
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return 0, wireErr(n, "packed field")
	}
	for i := 0; len(v) > 0; i++ {
		var m int
		var err error
		switch f.wire {
		case protowire.VarintType:
			var x uint64
			x, m = protowire.ConsumeVarint(v)
			if m >= 0 {
				err = f.checkVarint(x)
			}
		case protowire.Fixed32Type:
			_, m = protowire.ConsumeFixed32(v)
		default:
			_, m = protowire.ConsumeFixed64(v)
		}
		if m < 0 {
			err = wireErr(m, "packed element")
		}
		if err != nil {
			return 0, under(err, strconv.Itoa(i))
		}
		v = v[m:]
	}
	return n, nil
}

func wireName(t protowire.Type) string {
	switch t {
	case protowire.VarintType:
		return "varint"
	case protowire.Fixed32Type:
		return "fixed32"
	case protowire.Fixed64Type:
		return "fixed64"
	case protowire.BytesType:
		return "length-delimited"
	case protowire.StartGroupType, protowire.EndGroupType:
		return "group"
	}
	return strconv.Itoa(int(t))
}
