package schemacols

import (
	"context"
	"fmt"
	"strings"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/junctionhq/junction/sdk/connector"
)

// ProtoMessage compiles a Protobuf schema's files (the .proto files, or
// one descriptor set) and returns its message. Imports resolve to the
// files given and the well-known types only, so compiling reads nothing
// else.
func ProtoMessage(s *connector.Schema) (protoreflect.MessageDescriptor, error) {
	var d protoreflect.Descriptor
	if len(s.Files) == 1 && !strings.HasSuffix(s.Files[0].Name, ".proto") {
		var set descriptorpb.FileDescriptorSet
		if err := proto.Unmarshal(s.Files[0].Content, &set); err != nil {
			return nil, err
		}
		files, err := protodesc.NewFiles(&set)
		if err != nil {
			return nil, err
		}
		if d, err = files.FindDescriptorByName(protoreflect.FullName(s.Message)); err != nil {
			return nil, err
		}
	} else {
		srcs := make(map[string]string, len(s.Files))
		names := make([]string, 0, len(s.Files))
		for _, f := range s.Files {
			srcs[f.Name] = string(f.Content)
			names = append(names, f.Name)
		}
		c := protocompile.Compiler{
			Resolver:       protocompile.WithStandardImports(&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(srcs)}),
			MaxParallelism: 1,
		}
		compiled, err := c.Compile(context.Background(), names...)
		if err != nil {
			return nil, err
		}
		if d, err = compiled.AsResolver().FindDescriptorByName(protoreflect.FullName(s.Message)); err != nil {
			return nil, err
		}
	}
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return nil, fmt.Errorf("%s is not a message", s.Message)
	}
	return md, nil
}

// protoColumns lists the fields of md as columns: repeated fields, maps
// and messages as JSON, google.protobuf.Timestamp as Timestamp.
func protoColumns(md protoreflect.MessageDescriptor) []Column {
	var out []Column
	fds := md.Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		var t Type
		switch {
		case fd.IsList() || fd.IsMap():
			t = JSON
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			t = JSON
			if fd.Message().FullName() == "google.protobuf.Timestamp" {
				t = Timestamp
			}
		default:
			switch fd.Kind() {
			case protoreflect.StringKind, protoreflect.EnumKind:
				t = String
			case protoreflect.FloatKind, protoreflect.DoubleKind:
				t = Float
			case protoreflect.BoolKind:
				t = Boolean
			case protoreflect.BytesKind:
				t = Bytes
			default:
				t = Integer
			}
		}
		out = append(out, Column{string(fd.Name()), t})
	}
	return out
}
