package schema

import (
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// protoCompat checks whether a reader message can decode what a writer
// message encoded: fields match by number, so renames are free, removed
// fields are skipped as unknown, and what breaks is a field number whose
// type changes to one of another wire encoding or meaning, a change of
// cardinality or oneof membership, or a proto2 required field the writer
// does not send.
type protoCompat struct {
	seen map[[2]string]bool
	out  []Change
}

func (c *protoCompat) add(path, format string, args ...any) {
	c.out = append(c.out, Change{Path: path, Reason: fmt.Sprintf(format, args...)})
}

// scalarClass groups the scalar kinds whose values decode into each other
// without loss of meaning, per the Protobuf language guide.
func scalarClass(k protoreflect.Kind) int {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Uint64Kind, protoreflect.BoolKind:
		return 1
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return 2
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return 3
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return 4
	}
	return 0
}

func kindReadable(writer, reader protoreflect.Kind) bool {
	if writer == reader {
		return true
	}
	if cw := scalarClass(writer); cw != 0 && cw == scalarClass(reader) {
		return true
	}
	// Enums are int32 on the wire.
	if (writer == protoreflect.EnumKind && scalarClass(reader) == 1) || (reader == protoreflect.EnumKind && writer == protoreflect.Int32Kind) {
		return true
	}
	// A string is valid bytes; bytes need not be valid UTF-8.
	return writer == protoreflect.StringKind && reader == protoreflect.BytesKind
}

func (c *protoCompat) check(reader, writer protoreflect.MessageDescriptor, path string) {
	key := [2]string{string(reader.FullName()), string(writer.FullName())}
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	rfs, wfs := reader.Fields(), writer.Fields()
	for i := range rfs.Len() {
		rf := rfs.Get(i)
		fp := jsonPointer(path, string(rf.Name()))
		wf := wfs.ByNumber(rf.Number())
		if wf == nil {
			if rf.Cardinality() == protoreflect.Required {
				c.add(fp, "required field %s (number %d) is missing from the writer's %s", rf.Name(), rf.Number(), writer.FullName())
			}
			continue
		}
		if !kindReadable(wf.Kind(), rf.Kind()) {
			c.add(fp, "field number %d changed type from %s to %s", rf.Number(), kindName(wf), kindName(rf))
			continue
		}
		if wf.IsMap() != rf.IsMap() || (wf.Cardinality() == protoreflect.Repeated) != (rf.Cardinality() == protoreflect.Repeated) {
			c.add(fp, "field number %d changed from %s to %s", rf.Number(), cardinality(wf), cardinality(rf))
			continue
		}
		if rf.Cardinality() == protoreflect.Required && wf.Cardinality() != protoreflect.Required {
			c.add(fp, "field %s became required; the writer may leave it out", rf.Name())
		}
		if inOneof(rf) != inOneof(wf) {
			c.add(fp, "field %s moved %s a oneof", rf.Name(), map[bool]string{true: "into", false: "out of"}[inOneof(rf)])
		}
		if rf.Kind() == protoreflect.EnumKind && wf.Kind() == protoreflect.EnumKind && rf.Enum().IsClosed() {
			for j := range wf.Enum().Values().Len() {
				wv := wf.Enum().Values().Get(j)
				if rf.Enum().Values().ByNumber(wv.Number()) == nil {
					c.add(fp, "closed enum %s lost value %s (%d), which the writer may send", rf.Enum().FullName(), wv.Name(), wv.Number())
				}
			}
		}
		if rf.Message() != nil && wf.Message() != nil {
			c.check(rf.Message(), wf.Message(), fp)
		}
	}
}

func inOneof(fd protoreflect.FieldDescriptor) bool {
	o := fd.ContainingOneof()
	return o != nil && !o.IsSynthetic()
}

func kindName(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.Message() != nil:
		return "message " + string(fd.Message().FullName())
	case fd.Enum() != nil:
		return "enum " + string(fd.Enum().FullName())
	}
	return fd.Kind().String()
}

func cardinality(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "a map"
	case fd.Cardinality() == protoreflect.Repeated:
		return "repeated"
	}
	return "singular"
}
