package schema

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

func readFile(t testing.TB, name string) File {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return File{Name: name, Content: b}
}

func mustCompile(t testing.TB, src Source) *Schema {
	t.Helper()
	s, err := Compile(src)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return s
}

func orderJSON(t testing.TB) *Schema {
	return mustCompile(t, Source{Type: JSON, Files: []File{readFile(t, "order.schema.json")}})
}

func orderAvro(t testing.TB) *Schema {
	return mustCompile(t, Source{Type: Avro, Files: []File{readFile(t, "order.avsc")}})
}

func orderProto(t testing.TB) *Schema {
	return mustCompile(t, Source{Type: Protobuf, Message: "shop.v1.Order", Files: []File{readFile(t, "order.proto"), readFile(t, "shop/v1/item.proto")}})
}

func orderGraphQL(t testing.TB) *Schema {
	return mustCompile(t, Source{Type: GraphQL, Files: []File{readFile(t, "order.graphql")}})
}

// wantInvalid checks that err is a *ValidationError at path for rule.
func wantInvalid(t *testing.T, err error, path, rule string) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a validation error at %s (%s)", err, path, rule)
	}
	if !errors.Is(err, ErrInvalidMessage) {
		t.Errorf("%v does not match ErrInvalidMessage", err)
	}
	if ve.Path != path || ve.Rule != rule {
		t.Errorf("got path %q rule %q (%v), want path %q rule %q", ve.Path, ve.Rule, err, path, rule)
	}
}

func TestJSONValidate(t *testing.T) {
	s := orderJSON(t)
	for _, ok := range []string{
		`{"id":"o1","price":10}`,
		`{"id":"o1","price":0,"items":[{"sku":"a","qty":2}],"status":"paid","extra":true}`,
	} {
		if err := s.Validate([]byte(ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, tc := range []struct{ msg, path, rule string }{
		{`{"id":"o1","price":-1}`, "/price", "minimum"},
		{`{"id":"o1"}`, "", "required"},
		{`{"id":"o1","price":"ten"}`, "/price", "type"},
		{`{"id":"o1","price":1,"items":[{"sku":"a","qty":0}]}`, "/items/0/qty", "minimum"},
		{`{"id":"o1","price":1,"status":"lost"}`, "/status", "enum"},
		{`{"id":"","price":1}`, "/id", "minLength"},
		{`{"id":"o1","price":1`, "", "json"},
		{`{"id":"o1","price":1} {}`, "", "json"},
		{``, "", "json"},
	} {
		t.Run(tc.msg, func(t *testing.T) { wantInvalid(t, s.Validate([]byte(tc.msg)), tc.path, tc.rule) })
	}
	err := s.Validate([]byte(`{"id":"o1","price":-1}`))
	if !strings.Contains(err.Error(), "at /price: minimum:") {
		t.Errorf("error %q does not name the path and rule", err)
	}
}

func TestJSONCompileErrors(t *testing.T) {
	for name, text := range map[string]string{
		"not json":       `{"type": `,
		"bad keyword":    `{"type": "strin"}`,
		"file ref":       `{"$ref": "file:///etc/passwd"}`,
		"http ref":       `{"$ref": "http://127.0.0.1:1/x.json"}`,
		"relative ref":   `{"$ref": "other.json"}`,
		"bad minimum":    `{"minimum": "zero"}`,
		"bad pattern":    `{"pattern": "("}`,
		"dangling local": `{"$ref": "#/$defs/nope"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Compile(Source{Type: JSON, Files: []File{{Name: "s.json", Content: []byte(text)}}})
			if !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("got %v, want ErrInvalidSchema", err)
			}
			if !strings.Contains(err.Error(), "s.json") {
				t.Errorf("error %q does not name the file", err)
			}
			if strings.Contains(err.Error(), "root:") {
				t.Errorf("error %q leaks file contents", err)
			}
		})
	}
}

func TestSourceChecks(t *testing.T) {
	one := []File{{Name: "a", Content: []byte("{}")}}
	for name, src := range map[string]Source{
		"no type":          {Files: one},
		"unknown type":     {Type: "xml", Files: one},
		"no file":          {Type: JSON},
		"two files":        {Type: Avro, Files: append(one, one...)},
		"message on json":  {Type: JSON, Files: one, Message: "x"},
		"proto no message": {Type: Protobuf, Files: []File{{Name: "a.proto", Content: []byte(`syntax="proto3";`)}}},
		"empty file":       {Type: JSON, Files: []File{{Name: "a"}}},
		"too large":        {Type: JSON, Files: []File{{Name: "a", Content: make([]byte, MaxFileBytes+1)}}},
		"not utf8":         {Type: JSON, Files: []File{{Name: "a", Content: []byte{0xff, 0xfe}}}},
		"dup proto":        {Type: Protobuf, Message: "M", Files: []File{{Name: "a.proto", Content: []byte("x")}, {Name: "a.proto", Content: []byte("x")}}},
	} {
		if _, err := Compile(src); !errors.Is(err, ErrInvalidSchema) {
			t.Errorf("%s: got %v, want ErrInvalidSchema", name, err)
		}
	}
	if _, err := ParseType("yaml"); err == nil {
		t.Error("ParseType accepted yaml")
	}
	for in, want := range map[string]Type{"json": JSON, "JSONSCHEMA": JSON, "avro": Avro, "proto": Protobuf, "graphql": GraphQL} {
		if got, err := ParseType(in); err != nil || got != want {
			t.Errorf("ParseType(%q) = %v, %v", in, got, err)
		}
	}
}

func avroOrder(t testing.TB, s *Schema, note any) []byte {
	t.Helper()
	b, err := avro.Marshal(s.v.(*avroValidator).sch, map[string]any{
		"id": "o1", "price": 9.5, "qty": 3, "status": "PAID",
		"tags": []string{"a", "b"}, "attrs": map[string]int64{"x": 1}, "note": note,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAvroValidate(t *testing.T) {
	s := orderAvro(t)
	valid := avroOrder(t, s, nil)
	if err := s.Validate(valid); err != nil {
		t.Fatalf("valid datum: %v", err)
	}
	// Block-encoded arrays (negative count, then byte size) are valid too.
	blocked := avroEncode("o1", 1, 1, 0, func(b []byte) []byte {
		b = appendAvroLong(b, -2)
		b = appendAvroLong(b, 4)
		b = appendAvroString(appendAvroString(b, "a"), "b")
		return appendAvroLong(b, 0)
	}, 0)
	if err := s.Validate(blocked); err != nil {
		t.Fatalf("block-encoded array: %v", err)
	}

	wantInvalid(t, s.Validate(valid[:len(valid)-1]), "/note", "truncated")
	wantInvalid(t, s.Validate(append(valid, 0)), "", "trailing-bytes")
	wantInvalid(t, s.Validate(avroEncode("o1", 1, 1, 7, nil, 0)), "/status", "enum")
	wantInvalid(t, s.Validate(avroEncode("o1", 1, 1<<40, 0, nil, 0)), "/qty", "type")
	wantInvalid(t, s.Validate(avroEncode("o1", 1, 1, 0, nil, 5)), "/note", "union")
	wantInvalid(t, s.Validate(avroEncode("\xff", 1, 1, 0, nil, 0)), "/id", "utf8")
	wantInvalid(t, s.Validate(avroEncode("o1", 1, 1, 0, func(b []byte) []byte {
		b = appendAvroLong(b, 2)
		b = appendAvroString(b, "ok")
		return append(b, 0x09, 'x') // string of length -5
	}, 0)), "/tags/1", "length")
	wantInvalid(t, s.Validate(nil), "/id", "truncated")

	// A few bytes claiming billions of null items must not spin.
	nulls := mustCompile(t, Source{Type: Avro, Files: []File{{Name: "n.avsc", Content: []byte(`{"type":"array","items":"null"}`)}}})
	huge := appendAvroLong(appendAvroLong(nil, 1<<40), 0)
	wantInvalid(t, nulls.Validate(huge), "", "length")
}

// avroEncode builds an Order datum by hand; tags writes the tags array
// (default: empty) and noteBranch picks the union branch of note.
func avroEncode(id string, price float64, qty int64, status int64, tags func([]byte) []byte, noteBranch int64) []byte {
	b := appendAvroString(nil, id)
	b = append(b, make([]byte, 8)...)
	_ = price
	b = appendAvroLong(b, qty)
	b = appendAvroLong(b, status)
	if tags != nil {
		b = tags(b)
	} else {
		b = appendAvroLong(b, 0)
	}
	b = appendAvroLong(b, 0) // attrs
	b = appendAvroLong(b, noteBranch)
	if noteBranch == 1 {
		b = appendAvroString(b, "n")
	}
	return b
}

func appendAvroLong(b []byte, v int64) []byte {
	return protowire.AppendVarint(b, uint64(v<<1)^uint64(v>>63))
}

func appendAvroString(b []byte, s string) []byte {
	return append(appendAvroLong(b, int64(len(s))), s...)
}

func TestAvroCompileErrors(t *testing.T) {
	for name, text := range map[string]string{
		"not json":      `{"type":`,
		"unknown type":  `{"type": "strng"}`,
		"record fields": `{"type": "record", "name": "R"}`,
		"enum no syms":  `{"type": "enum", "name": "E"}`,
		"bad default":   `{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}`,
	} {
		if _, err := Compile(Source{Type: Avro, Files: []File{{Name: "s.avsc", Content: []byte(text)}}}); !errors.Is(err, ErrInvalidSchema) {
			t.Errorf("%s: got %v, want ErrInvalidSchema", name, err)
		}
	}
}

func protoOrder(t testing.TB, s *Schema, js string) []byte {
	t.Helper()
	m := dynamicpb.NewMessage(s.v.(*protoValidator).desc)
	if err := protojson.Unmarshal([]byte(js), m); err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProtobufValidate(t *testing.T) {
	s := orderProto(t)
	valid := protoOrder(t, s, `{"id":"o1","price":9.5,"items":[{"sku":"a","qty":2}],"createdAt":"2026-01-02T03:04:05Z","status":"STATUS_PAID","codes":[1,-2,3]}`)
	if err := s.Validate(valid); err != nil {
		t.Fatalf("valid message: %v", err)
	}
	if err := s.Validate(nil); err != nil {
		t.Fatalf("empty message: %v", err)
	}
	// Unknown fields are valid, as in every decoder.
	if err := s.Validate(protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 1)); err != nil {
		t.Fatalf("unknown field: %v", err)
	}
	// Unpacked repeated scalars are valid too.
	unpacked := protowire.AppendVarint(protowire.AppendTag(nil, 6, protowire.VarintType), 5)
	if err := s.Validate(unpacked); err != nil {
		t.Fatalf("unpacked repeated: %v", err)
	}

	wantInvalid(t, s.Validate(protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 1)), "/price", "wire-type")
	wantInvalid(t, s.Validate(protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "\xff")), "/id", "utf8")
	item := protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 1<<40)
	wantInvalid(t, s.Validate(protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), item)), "/items/qty", "range")
	badItem := protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), []byte{0x0a, 0x05, 'a'})
	wantInvalid(t, s.Validate(badItem), "/items/sku", "wire-format")
	trunc := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "abc")
	wantInvalid(t, s.Validate(trunc[:len(trunc)-1]), "/id", "wire-format")
	wantInvalid(t, s.Validate([]byte{0x80}), "", "wire-format")
	packedBad := protowire.AppendBytes(protowire.AppendTag(nil, 6, protowire.BytesType), protowire.AppendVarint(nil, 1<<35))
	wantInvalid(t, s.Validate(packedBad), "/codes/0", "range")
}

func TestProtobufProto2Required(t *testing.T) {
	s := mustCompile(t, Source{Type: Protobuf, Message: "p.M", Files: []File{{Name: "p.proto", Content: []byte(`
syntax = "proto2";
package p;
message M { required string a = 1; optional N n = 2; }
message N { required int32 b = 1; }
`)}}})
	a := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "x")
	if err := s.Validate(a); err != nil {
		t.Fatal(err)
	}
	wantInvalid(t, s.Validate(nil), "/a", "required")
	n := protowire.AppendBytes(protowire.AppendTag(a, 2, protowire.BytesType), nil)
	wantInvalid(t, s.Validate(n), "/n/b", "required")
	// proto2 strings need not be UTF-8.
	if err := s.Validate(protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "\xff")); err != nil {
		t.Fatal(err)
	}
}

func TestProtobufDescriptorSet(t *testing.T) {
	compiled := orderProto(t)
	fd := compiled.v.(*protoValidator).desc.ParentFile()
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var walk func(path string)
	files := map[string]*descriptorpb.FileDescriptorProto{}
	imports := fd.Imports()
	for i := range imports.Len() {
		files[imports.Get(i).Path()] = protodesc.ToFileDescriptorProto(imports.Get(i).FileDescriptor)
	}
	files[fd.Path()] = protodesc.ToFileDescriptorProto(fd)
	walk = func(path string) {
		if seen[path] {
			return
		}
		seen[path] = true
		for _, dep := range files[path].GetDependency() {
			walk(dep)
		}
		set.File = append(set.File, files[path])
	}
	walk(fd.Path())
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s := mustCompile(t, Source{Type: Protobuf, Message: "shop.v1.Order", Files: []File{{Name: "order.binpb", Content: b}}})
	valid := protoOrder(t, compiled, `{"id":"o1","items":[{"sku":"a","qty":2}]}`)
	if err := s.Validate(valid); err != nil {
		t.Fatal(err)
	}
	wantInvalid(t, s.Validate(protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 1)), "/price", "wire-type")

	// A set missing a dependency is refused with advice.
	partial, _ := proto.Marshal(&descriptorpb.FileDescriptorSet{File: set.File[len(set.File)-1:]})
	_, err = Compile(Source{Type: Protobuf, Message: "shop.v1.Order", Files: []File{{Name: "order.binpb", Content: partial}}})
	if !errors.Is(err, ErrInvalidSchema) || !strings.Contains(err.Error(), "include_imports") {
		t.Fatalf("got %v", err)
	}
}

func TestProtobufCompileErrors(t *testing.T) {
	order := readFile(t, "order.proto")
	for name, src := range map[string]Source{
		"missing import": {Message: "shop.v1.Order", Files: []File{order}},
		"file import":    {Message: "p.M", Files: []File{{Name: "p.proto", Content: []byte(`syntax="proto3"; package p; import "/etc/passwd"; message M {}`)}}},
		"syntax":         {Message: "p.M", Files: []File{{Name: "p.proto", Content: []byte(`syntax="proto3"; message M { string a = ; }`)}}},
		"no message":     {Message: "p.Nope", Files: []File{{Name: "p.proto", Content: []byte(`syntax="proto3"; package p; message M {}`)}}},
		"enum not msg":   {Message: "p.E", Files: []File{{Name: "p.proto", Content: []byte(`syntax="proto3"; package p; enum E { A = 0; }`)}}},
		"garbage set":    {Message: "p.M", Files: []File{{Name: "set.bin", Content: []byte{0xff, 0xff}}}},
		"mixed":          {Message: "p.M", Files: []File{order, {Name: "set.bin", Content: []byte{1}}}},
	} {
		src.Type = Protobuf
		_, err := Compile(src)
		if !errors.Is(err, ErrInvalidSchema) {
			t.Errorf("%s: got %v, want ErrInvalidSchema", name, err)
		}
	}
	_, err := Compile(Source{Type: Protobuf, Message: "p.M", Files: []File{{Name: "p.proto", Content: []byte("syntax=\"proto3\";\nmessage M {\n  string a = ;\n}\n")}}})
	if err == nil || !strings.Contains(err.Error(), "p.proto:3") {
		t.Errorf("syntax error %v does not name file and line", err)
	}
}

func TestGraphQLValidate(t *testing.T) {
	s := orderGraphQL(t)
	if err := s.Validate([]byte(`query { order(id: "1") { id price items { sku qty } } }`)); err != nil {
		t.Fatal(err)
	}
	err := s.Validate([]byte(`query { order(id: "1") { id weight } }`))
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Rule != "FieldsOnCorrectType" || !strings.Contains(ve.Reason, "weight") || ve.Path != "1:29" {
		t.Fatalf("got %#v", err)
	}
	if err := s.Validate([]byte(`query { order(`)); !errors.As(err, &ve) || ve.Rule != "syntax" {
		t.Fatalf("got %v", err)
	}
	wantInvalid(t, s.Validate([]byte{0xff}), "", "utf8")
	if _, err := Compile(Source{Type: GraphQL, Files: []File{{Name: "s.graphql", Content: []byte(`type Query { a: Nope }`)}}}); !errors.Is(err, ErrInvalidSchema) {
		t.Fatalf("got %v", err)
	}
}

func TestConcurrentValidate(t *testing.T) {
	s := orderProto(t)
	valid := protoOrder(t, s, `{"id":"o1","items":[{"sku":"a","qty":2}]}`)
	done := make(chan error)
	for range 4 {
		go func() {
			var err error
			for range 1000 {
				if err = s.Validate(valid); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestJSONFastPathAgrees(t *testing.T) {
	s := orderJSON(t)
	v := s.v.(*jsonValidator)
	if v.fast == nil {
		t.Fatal("the order schema should take the fast path")
	}
	for _, msg := range []string{
		`{"id":"o1","price":10}`, `{"id":"o1","price":-0.5}`, `{"id":"o\u0031","price":1}`,
		`{"id":"o1","price":1e2}`, `{"id":"o1","price":1,"items":[{"sku":"a","qty":1.0}]}`,
		`{"id":"o1","price":1,"id":""}`, `{"id":"o1","price":1,"status":"paid"}`, `{"id":"o1","price":1,"status":null}`,
		`  {"id":"o1" , "price" : 1 }  `, `{"id":"o1","price":01}`, `{"id":"o1","price":1,}`, `[]`, `"x"`,
		`{"id":"o1","price":1,"items":[{"sku":"a","qty":2},{"sku":"b"}]}`, `{"id":"é","price":1}`,
	} {
		fast := v.fast.fastValid([]byte(msg))
		full := s.Validate([]byte(msg)) == nil
		if fast && !full {
			t.Errorf("%s: fast path passed what the full validator rejects", msg)
		}
		inst, err := jsonschemaUnmarshal([]byte(msg))
		lib := err == nil && v.sch.Validate(inst) == nil
		if full != lib {
			t.Errorf("%s: Validate says %v, the library %v", msg, full, lib)
		}
	}
	// Keywords outside the fast subset fall back to the full validator.
	for _, text := range []string{
		`{"anyOf":[{"type":"string"}]}`, `{"properties":{"a":{"$id":"x"}}}`,
		`{"$schema":"http://json-schema.org/draft-07/schema#","format":"email"}`, `{"$schema":"http://json-schema.org/draft-04/schema#"}`,
		`{"$defs":{"a":{"$anchor":"foo"}},"$ref":"#foo"}`,
	} {
		s := mustCompile(t, Source{Type: JSON, Files: []File{{Name: "s.json", Content: []byte(text)}}})
		if s.v.(*jsonValidator).fast != nil {
			t.Errorf("%s took the fast path", text)
		}
	}
	// A root $id and format (an annotation in 2020-12) keep the fast path.
	s = mustCompile(t, Source{Type: JSON, Files: []File{{Name: "s.json", Content: []byte(`{"$id":"https://example.com/o.json","properties":{"e":{"type":"string","format":"email"}}}`)}}})
	if s.v.(*jsonValidator).fast == nil {
		t.Fatal("root $id and format left the fast path")
	}
	if err := s.Validate([]byte(`{"e":"not an email"}`)); err != nil {
		t.Fatal(err)
	}
}
