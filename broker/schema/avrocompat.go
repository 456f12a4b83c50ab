package schema

import (
	"fmt"
	"slices"

	"github.com/hamba/avro/v2"
)

// avroCompat applies Avro's schema resolution rules: can a reader schema
// read what a writer schema wrote? It collects every violation.
type avroCompat struct {
	seen map[[2]string]bool // named (reader, writer) pairs already checked
	out  []Change
}

func (c *avroCompat) add(path, format string, args ...any) {
	c.out = append(c.out, Change{Path: path, Reason: fmt.Sprintf(format, args...)})
}

func deref(s avro.Schema) avro.Schema {
	for {
		r, ok := s.(*avro.RefSchema)
		if !ok {
			return s
		}
		s = r.Schema()
	}
}

// promotable reports whether a writer primitive type can be read as the
// reader's, per the Avro specification's promotions.
func promotable(writer, reader avro.Type) bool {
	if writer == reader {
		return true
	}
	switch writer {
	case avro.Int:
		return reader == avro.Long || reader == avro.Float || reader == avro.Double
	case avro.Long:
		return reader == avro.Float || reader == avro.Double
	case avro.Float:
		return reader == avro.Double
	case avro.String:
		return reader == avro.Bytes
	case avro.Bytes:
		return reader == avro.String
	}
	return false
}

// matches reports whether reader can read writer without any violation.
func (c *avroCompat) matches(reader, writer avro.Schema) bool {
	sub := avroCompat{seen: make(map[[2]string]bool)}
	for k := range c.seen {
		sub.seen[k] = true
	}
	sub.check(reader, writer, "")
	return len(sub.out) == 0
}

func typeName(s avro.Schema) string {
	if n, ok := s.(avro.NamedSchema); ok {
		return string(s.Type()) + " " + n.FullName()
	}
	return string(s.Type())
}

func namesMatch(reader, writer avro.NamedSchema) bool {
	return reader.FullName() == writer.FullName() || slices.Contains(reader.Aliases(), writer.FullName())
}

func (c *avroCompat) check(reader, writer avro.Schema, path string) {
	reader, writer = deref(reader), deref(writer)
	if wu, ok := writer.(*avro.UnionSchema); ok {
		for _, wb := range wu.Types() {
			wb = deref(wb)
			if ru, ok := reader.(*avro.UnionSchema); ok {
				if !slices.ContainsFunc(ru.Types(), func(rb avro.Schema) bool { return c.matches(rb, wb) }) {
					c.add(path, "the reader's union has no branch that reads the writer's %s", typeName(wb))
				}
				continue
			}
			c.check(reader, wb, path)
		}
		return
	}
	if ru, ok := reader.(*avro.UnionSchema); ok {
		if !slices.ContainsFunc(ru.Types(), func(rb avro.Schema) bool { return c.matches(rb, writer) }) {
			c.add(path, "the reader's union has no branch that reads the writer's %s", typeName(writer))
		}
		return
	}
	if rp, ok := reader.(*avro.PrimitiveSchema); ok {
		if wp, ok := writer.(*avro.PrimitiveSchema); ok && promotable(wp.Type(), rp.Type()) {
			return
		}
	}
	if reader.Type() != writer.Type() {
		c.add(path, "type changed from %s to %s", typeName(writer), typeName(reader))
		return
	}
	switch r := reader.(type) {
	case *avro.RecordSchema:
		w := writer.(*avro.RecordSchema)
		if !namesMatch(r, w) {
			c.add(path, "record name changed from %s to %s (add the old name as an alias)", w.FullName(), r.FullName())
			return
		}
		key := [2]string{r.FullName(), w.FullName()}
		if c.seen[key] {
			return
		}
		c.seen[key] = true
		for _, rf := range r.Fields() {
			fp := jsonPointer(path, rf.Name())
			wf := writerField(w, rf)
			if wf == nil {
				if !rf.HasDefault() {
					c.add(fp, "field %s has no default and the writer's %s lacks it", rf.Name(), w.FullName())
				}
				continue
			}
			c.check(rf.Type(), wf.Type(), fp)
		}
	case *avro.EnumSchema:
		w := writer.(*avro.EnumSchema)
		if !namesMatch(r, w) {
			c.add(path, "enum name changed from %s to %s (add the old name as an alias)", w.FullName(), r.FullName())
			return
		}
		if r.HasDefault() {
			return
		}
		for _, sym := range w.Symbols() {
			if !slices.Contains(r.Symbols(), sym) {
				c.add(path, "enum %s lost symbol %s, which the writer may send, and has no default", r.FullName(), sym)
			}
		}
	case *avro.FixedSchema:
		w := writer.(*avro.FixedSchema)
		if !namesMatch(r, w) {
			c.add(path, "fixed name changed from %s to %s (add the old name as an alias)", w.FullName(), r.FullName())
		}
		if r.Size() != w.Size() {
			c.add(path, "fixed %s size changed from %d to %d", r.FullName(), w.Size(), r.Size())
		}
	case *avro.ArraySchema:
		c.check(r.Items(), writer.(*avro.ArraySchema).Items(), jsonPointer(path, "[]"))
	case *avro.MapSchema:
		c.check(r.Values(), writer.(*avro.MapSchema).Values(), jsonPointer(path, "{}"))
	}
}

// writerField finds the writer's field that a reader field reads: by name
// or by one of the reader field's aliases.
func writerField(w *avro.RecordSchema, rf *avro.Field) *avro.Field {
	for _, wf := range w.Fields() {
		if wf.Name() == rf.Name() || slices.Contains(rf.Aliases(), wf.Name()) {
			return wf
		}
	}
	return nil
}
