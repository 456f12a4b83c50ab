package schema

import (
	"bytes"
	"errors"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// FuzzCompile feeds malformed schemas of every type to Compile: it must
// fail with ErrInvalidSchema or produce a schema that validates and
// compares with itself without panicking.
func FuzzCompile(f *testing.F) {
	f.Add(uint8(0), []byte(`{"type":"object","properties":{"a":{"$ref":"#/$defs/x"}},"$defs":{"x":{"type":"integer"}}}`), "")
	f.Add(uint8(1), []byte(`{"type":"record","name":"R","fields":[{"name":"a","type":["null","R"]}]}`), "")
	f.Add(uint8(2), []byte(`syntax="proto3"; package p; message M { string a = 1; repeated M m = 2; map<string,int32> x = 3; }`), "p.M")
	f.Add(uint8(3), []byte(`type Query { a(x: Int): String }`), "")
	f.Fuzz(func(t *testing.T, typ uint8, content []byte, message string) {
		types := []Type{JSON, Avro, Protobuf, GraphQL}
		src := Source{Type: types[int(typ)%len(types)], Files: []File{{Name: "s", Content: content}}}
		if src.Type == Protobuf {
			src.Files[0].Name, src.Message = "s.proto", message
		}
		s, err := Compile(src)
		if err != nil {
			if !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("error %v does not match ErrInvalidSchema", err)
			}
			return
		}
		if err := s.Validate(content); err != nil && !errors.Is(err, ErrInvalidMessage) {
			t.Fatalf("validation error %v does not match ErrInvalidMessage", err)
		}
		mode := CompatFullTransitive
		if s.Type() == GraphQL {
			mode = CompatNone
		}
		if _, err := CheckCompatibility(mode, s, []Version{{1, s}}); err != nil {
			t.Fatal(err)
		}
	})
}

func fuzzValidate(f *testing.F, s *Schema, seeds ...[]byte) {
	for _, seed := range seeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := s.Validate(data)
		var ve *ValidationError
		if err != nil && (!errors.As(err, &ve) || ve.Rule == "" || ve.Reason == "") {
			t.Fatalf("got %#v, want a *ValidationError with a rule and a reason", err)
		}
	})
}

func FuzzValidateJSON(f *testing.F) {
	fuzzValidate(f, orderJSON(f), []byte(`{"id":"o1","price":1,"items":[{"sku":"a","qty":2}]}`), []byte(`[1,{"a":null}]`))
}

func FuzzValidateAvro(f *testing.F) {
	s := orderAvro(f)
	fuzzValidate(f, s, avroOrder(f, s, nil), avroOrder(f, s, "note"))
}

func FuzzValidateProtobuf(f *testing.F) {
	s := orderProto(f)
	fuzzValidate(f, s, protoOrder(f, s, `{"id":"o1","price":9.5,"items":[{"sku":"a","qty":2}],"createdAt":"2026-01-02T03:04:05Z","codes":[1,-2]}`))
}

func FuzzValidateGraphQL(f *testing.F) {
	fuzzValidate(f, orderGraphQL(f), []byte(`query Q($id: ID!) { order(id: $id) { id items { sku } } }`), []byte(`{ order(id: 1) { ...F } } fragment F on Order { price }`))
}

// FuzzJSONFastPath holds the fast JSON path to the full validator: it may
// leave a message undecided, but must never pass one the full validator
// rejects.
func FuzzJSONFastPath(f *testing.F) {
	f.Add(`{"type":"object","properties":{"a":{"type":"integer","minimum":1}},"required":["a"],"additionalProperties":false}`, []byte(`{"a":2}`))
	f.Add(`{"type":"array","items":{"enum":["x",1,null,true]},"minItems":1,"maxItems":3}`, []byte(`["x",1]`))
	f.Add(`{"$defs":{"n":{"type":["object","null"],"properties":{"next":{"$ref":"#/$defs/n"}}}},"$ref":"#/$defs/n"}`, []byte(`{"next":{"next":null}}`))
	f.Add(`{"type":"string","minLength":2,"maxLength":4,"pattern":"^a"}`, []byte(`"abc"`))
	f.Add(`{"type":"number","exclusiveMaximum":10,"exclusiveMinimum":-1.5}`, []byte(`9.99`))
	f.Add(`{"properties":{"a":false},"additionalProperties":{"const":3}}`, []byte(`{"b":3}`))
	f.Add(`{"$id":"https://example.com/s","properties":{"d":{"format":"date-time","type":"string"}}}`, []byte(`{"d":"2026-01-02"}`))
	f.Add(`{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"d":{"format":"email"}}}`, []byte(`{"d":"x"}`))
	f.Fuzz(func(t *testing.T, schemaText string, msg []byte) {
		s, err := Compile(Source{Type: JSON, Files: []File{{Name: "s.json", Content: []byte(schemaText)}}})
		if err != nil {
			return
		}
		v := s.v.(*jsonValidator)
		if v.fast == nil || !v.fast.fastValid(msg) {
			return
		}
		inst, err := jsonschemaUnmarshal(msg)
		if err != nil {
			t.Fatalf("fast path passed %q, which is not JSON: %v", msg, err)
		}
		if err := v.sch.Validate(inst); err != nil {
			t.Fatalf("fast path passed %q, which the full validator rejects: %v", msg, err)
		}
	})
}

func jsonschemaUnmarshal(data []byte) (any, error) {
	return jsonschema.UnmarshalJSON(bytes.NewReader(data))
}
