package main

import (
	"fmt"
	"reflect"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// protoFields lists the singular scalar fields of md as typed columns.
func protoFields(md protoreflect.MessageDescriptor) []typedField {
	var out []typedField
	fds := md.Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		if fd.Cardinality() == protoreflect.Repeated {
			continue
		}
		var kind reflect.Kind
		switch fd.Kind() {
		case protoreflect.StringKind, protoreflect.EnumKind:
			kind = reflect.String
		case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind, protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
			protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
			kind = reflect.Int64
		case protoreflect.FloatKind, protoreflect.DoubleKind:
			kind = reflect.Float64
		case protoreflect.BoolKind:
			kind = reflect.Bool
		case protoreflect.BytesKind:
			kind = reflect.Slice
		default:
			continue // uint64 may not fit an int64 column; messages stay in value
		}
		out = append(out, typedField{name: string(fd.Name()), kind: kind})
	}
	return out
}

// decodeProto reads the typed fields of a Protobuf record value; unset
// fields read as their default, as in any Protobuf decoder.
func (t *typedColumns) decodeProto(value []byte) []any {
	m := dynamicpb.NewMessage(t.proto)
	if err := proto.Unmarshal(value, m); err != nil {
		return nil
	}
	out := make([]any, len(t.fields))
	fds := t.proto.Fields()
	for i, f := range t.fields {
		fd := fds.ByName(protoreflect.Name(f.name))
		if fd == nil {
			continue
		}
		v := m.Get(fd)
		switch fd.Kind() {
		case protoreflect.StringKind:
			out[i] = v.String()
		case protoreflect.EnumKind:
			if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
				out[i] = string(ev.Name())
			} else {
				out[i] = fmt.Sprint(int32(v.Enum()))
			}
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
			out[i] = int64(v.Uint())
		case protoreflect.FloatKind, protoreflect.DoubleKind:
			out[i] = v.Float()
		case protoreflect.BoolKind:
			out[i] = v.Bool()
		case protoreflect.BytesKind:
			out[i] = v.Bytes()
		default:
			out[i] = v.Int()
		}
	}
	return out
}
