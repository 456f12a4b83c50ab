package schema

import (
	"strings"
	"testing"
)

func src(typ Type, text string) Source {
	s := Source{Type: typ, Files: []File{{Name: "s", Content: []byte(text)}}}
	if typ == Protobuf {
		s.Files[0].Name, s.Message = "s.proto", "p.M"
	}
	return s
}

func check(t *testing.T, typ Type, mode Compatibility, earlier []string, next string) *Report {
	t.Helper()
	var vs []Version
	for i, e := range earlier {
		vs = append(vs, Version{Number: i + 1, Schema: mustCompile(t, src(typ, e))})
	}
	r, err := CheckCompatibility(mode, mustCompile(t, src(typ, next)), vs)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type compatCase struct {
	name     string
	earlier  []string
	next     string
	mode     Compatibility
	breaking string // substring of the report; "" means compatible
}

func runCompat(t *testing.T, typ Type, cases []compatCase) {
	for _, tc := range cases {
		t.Run(tc.name+"/"+string(tc.mode), func(t *testing.T) {
			r := check(t, typ, tc.mode, tc.earlier, tc.next)
			if tc.breaking == "" {
				if !r.Compatible() {
					t.Fatalf("want compatible, got %s", r)
				}
				return
			}
			if r.Compatible() {
				t.Fatalf("want a breaking change naming %q, got compatible", tc.breaking)
			}
			if !strings.Contains(r.String(), tc.breaking) {
				t.Fatalf("report does not name %q:\n%s", tc.breaking, r)
			}
		})
	}
}

func TestJSONCompatibility(t *testing.T) {
	const (
		v1       = `{"type":"object","properties":{"id":{"type":"string"},"qty":{"type":"integer","minimum":1}},"required":["id"]}`
		widened  = `{"type":"object","properties":{"id":{"type":"string"},"qty":{"type":"number","minimum":0}},"required":["id"]}`
		required = `{"type":"object","properties":{"id":{"type":"string"},"qty":{"type":"integer","minimum":1}},"required":["id","qty"]}`
		closed   = `{"type":"object","properties":{"id":{"type":"string"},"qty":{"type":"integer","minimum":1}},"required":["id"],"additionalProperties":false}`
		docOnly  = `{"type":"object","description":"orders","properties":{"id":{"type":"string","title":"id"},"qty":{"type":"integer","minimum":1}},"required":["id"]}`
		enum1    = `{"enum":["a","b","c"]}`
		enum2    = `{"enum":["a","b"]}`
		refs1    = `{"$defs":{"q":{"type":"integer"}},"type":"object","properties":{"qty":{"$ref":"#/$defs/q"}}}`
		refs2    = `{"$defs":{"q":{"type":"string"}},"type":"object","properties":{"qty":{"$ref":"#/$defs/q"}}}`
		items1   = `{"type":"array","items":{"type":"string","maxLength":10}}`
		items2   = `{"type":"array","items":{"type":"string","maxLength":5}}`
		anyOf1   = `{"anyOf":[{"type":"string"},{"type":"integer"}]}`
		anyOf2   = `{"anyOf":[{"type":"string"}]}`
	)
	runCompat(t, JSON, []compatCase{
		{"widen type and bound", []string{v1}, widened, CompatBackward, ""},
		{"widen type and bound", []string{v1}, widened, CompatForward, `/qty: type number no longer allowed`},
		{"widen type and bound", []string{v1}, widened, CompatFull, `minimum raised from 0 to 1`},
		{"new required", []string{v1}, required, CompatBackward, `/qty: property "qty" became required`},
		{"new required", []string{v1}, required, CompatForward, ""},
		{"closed content", []string{v1}, closed, CompatBackward, "additional properties no longer allowed"},
		{"docs only", []string{v1}, docOnly, CompatFullTransitive, ""},
		{"enum narrowed", []string{enum1}, enum2, CompatBackward, `value "c" no longer allowed`},
		{"enum narrowed", []string{enum1}, enum2, CompatForward, ""},
		{"ref target changed", []string{refs1}, refs2, CompatBackward, "/qty: type integer no longer allowed"},
		{"items bound", []string{items1}, items2, CompatBackward, "/*: maxLength lowered from 10 to 5"},
		{"anyOf changed", []string{anyOf1}, anyOf2, CompatBackward, "keyword anyOf changed"},
		{"anything goes", []string{v1}, `{"type":"string"}`, CompatNone, ""},
		// Transitive modes check every earlier version, the others only the latest.
		{"vs latest only", []string{required, v1}, widened, CompatForward, "type number no longer allowed"},
		{"vs latest only", []string{widened, v1}, v1, CompatBackward, ""},
		{"vs every version", []string{widened, v1}, v1, CompatBackwardTransitive, "backward with version 1 at /qty: type number no longer allowed"},
		{"vs every version", []string{v1, widened}, widened, CompatForwardTransitive, "forward with version 1"},
		{"vs every version", []string{v1, widened}, widened, CompatFullTransitive, "forward with version 1"},
	})
}

func TestAvroCompatibility(t *testing.T) {
	const (
		v1         = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"}]}`
		withDef    = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"},{"name":"note","type":"string","default":""}]}`
		noDef      = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"},{"name":"note","type":"string"}]}`
		dropped    = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"}]}`
		promoted   = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"long"}]}`
		retyped    = `{"type":"record","name":"Order","fields":[{"name":"id","type":"string"},{"name":"qty","type":"string"}]}`
		renamed    = `{"type":"record","name":"Purchase","fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"}]}`
		aliased    = `{"type":"record","name":"Purchase","aliases":["Order"],"fields":[{"name":"id","type":"string"},{"name":"qty","type":"int"}]}`
		fieldAlias = `{"type":"record","name":"Order","fields":[{"name":"ident","aliases":["id"],"type":"string"},{"name":"qty","type":"int"}]}`
		enum3      = `{"type":"enum","name":"S","symbols":["A","B","C"]}`
		enum2      = `{"type":"enum","name":"S","symbols":["A","B"]}`
		enum2Def   = `{"type":"enum","name":"S","symbols":["A","B"],"default":"A"}`
		union1     = `["null","string"]`
		union2     = `["null","string","int"]`
		fixed8     = `{"type":"fixed","name":"F","size":8}`
		fixed16    = `{"type":"fixed","name":"F","size":16}`
		arr        = `{"type":"array","items":"int"}`
		arrStr     = `{"type":"array","items":"string"}`
		recursive  = `{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"],"default":null}]}`
		recursive2 = `{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"],"default":null}]}`
	)
	runCompat(t, Avro, []compatCase{
		{"add field with default", []string{v1}, withDef, CompatFull, ""},
		{"add field without default", []string{v1}, noDef, CompatBackward, "/note: field note has no default"},
		{"add field without default", []string{v1}, noDef, CompatForward, ""},
		{"drop field", []string{v1}, dropped, CompatBackward, ""},
		{"drop field", []string{v1}, dropped, CompatForward, "/qty: field qty has no default"},
		{"promote int to long", []string{v1}, promoted, CompatBackward, ""},
		{"promote int to long", []string{v1}, promoted, CompatForward, "/qty: type changed from long to int"},
		{"retype", []string{v1}, retyped, CompatFull, "type changed from int to string"},
		{"rename record", []string{v1}, renamed, CompatBackward, "record name changed from Order to Purchase"},
		{"rename record with alias", []string{v1}, aliased, CompatBackward, ""},
		{"rename field with alias", []string{v1}, fieldAlias, CompatBackward, ""},
		{"enum symbol removed", []string{enum3}, enum2, CompatBackward, "enum S lost symbol C"},
		{"enum symbol removed", []string{enum3}, enum2Def, CompatBackward, ""},
		{"enum symbol removed", []string{enum3}, enum2, CompatForward, ""},
		{"union widened", []string{union1}, union2, CompatBackward, ""},
		{"union widened", []string{union1}, union2, CompatForward, "no branch that reads the writer's int"},
		{"fixed size", []string{fixed8}, fixed16, CompatBackward, "size changed from 8 to 16"},
		{"array items", []string{arr}, arrStr, CompatBackward, "/[]: type changed from int to string"},
		{"recursive", []string{recursive}, recursive2, CompatBackward, ""},
		{"recursive", []string{recursive}, recursive2, CompatForward, "/v: type changed from long to int"},
		{"anything goes", []string{v1}, `"string"`, CompatNone, ""},
		{"vs latest only", []string{v1, withDef}, noDef, CompatBackward, ""},
		{"vs every version", []string{v1, withDef}, noDef, CompatBackwardTransitive, "backward with version 1 at /note"},
		{"vs every version", []string{dropped, v1}, v1, CompatForwardTransitive, ""},
		{"vs every version", []string{v1, dropped}, dropped, CompatForwardTransitive, "forward with version 1 at /qty"},
		{"vs every version", []string{v1, dropped}, dropped, CompatFullTransitive, "forward with version 1 at /qty"},
	})
}

func TestProtobufCompatibility(t *testing.T) {
	const (
		v1       = `syntax="proto3"; package p; message M { string id = 1; int32 qty = 2; N n = 3; } message N { string a = 1; }`
		renamed  = `syntax="proto3"; package p; message M { string ident = 1; int32 qty = 2; N n = 3; } message N { string a = 1; }`
		widened  = `syntax="proto3"; package p; message M { string id = 1; int64 qty = 2; N n = 3; } message N { string a = 1; }`
		retyped  = `syntax="proto3"; package p; message M { string id = 1; double qty = 2; N n = 3; } message N { string a = 1; }`
		repeated = `syntax="proto3"; package p; message M { string id = 1; repeated int32 qty = 2; N n = 3; } message N { string a = 1; }`
		nested   = `syntax="proto3"; package p; message M { string id = 1; int32 qty = 2; N n = 3; } message N { int64 a = 1; }`
		removed  = `syntax="proto3"; package p; message M { string id = 1; N n = 3; } message N { string a = 1; }`
		oneof    = `syntax="proto3"; package p; message M { oneof k { string id = 1; int32 qty = 2; } N n = 3; } message N { string a = 1; }`
		bytesID  = `syntax="proto3"; package p; message M { bytes id = 1; int32 qty = 2; N n = 3; } message N { string a = 1; }`
		p2       = `syntax="proto2"; package p; message M { optional string id = 1; }`
		p2req    = `syntax="proto2"; package p; message M { optional string id = 1; required int32 qty = 2; }`
	)
	runCompat(t, Protobuf, []compatCase{
		{"rename field", []string{v1}, renamed, CompatFullTransitive, ""},
		{"int32 to int64", []string{v1}, widened, CompatFull, ""},
		{"int32 to double", []string{v1}, retyped, CompatBackward, "/qty: field number 2 changed type from int32 to double"},
		{"int32 to double", []string{v1}, retyped, CompatForward, "field number 2 changed type from double to int32"},
		{"singular to repeated", []string{v1}, repeated, CompatBackward, "changed from singular to repeated"},
		{"nested type", []string{v1}, nested, CompatFull, "/n/a: field number 1 changed type from string to int64"},
		{"remove field", []string{v1}, removed, CompatFull, ""},
		{"into oneof", []string{v1}, oneof, CompatBackward, "/id: field id moved into a oneof"},
		{"string to bytes", []string{v1}, bytesID, CompatBackward, ""},
		{"string to bytes", []string{v1}, bytesID, CompatForward, "changed type from bytes to string"},
		{"required added", []string{p2}, p2req, CompatBackward, "required field qty (number 2) is missing"},
		{"required added", []string{p2}, p2req, CompatForward, ""},
		{"anything goes", []string{v1}, retyped, CompatNone, ""},
		{"vs every version", []string{retyped, v1}, v1, CompatBackwardTransitive, "backward with version 1 at /qty"},
		{"vs latest only", []string{retyped, v1}, v1, CompatBackward, ""},
	})
}

func TestGraphQLCompatibilityOnlyNone(t *testing.T) {
	s := orderGraphQL(t)
	prev := []Version{{Number: 1, Schema: s}}
	if r, err := CheckCompatibility(CompatNone, s, prev); err != nil || !r.Compatible() {
		t.Fatalf("none: %v %v", r, err)
	}
	for _, m := range Modes[1:] {
		if _, err := CheckCompatibility(m, s, prev); err == nil {
			t.Errorf("%s accepted for graphql", m)
		}
		if err := CheckMode(GraphQL, m); err == nil {
			t.Errorf("CheckMode accepted %s for graphql", m)
		}
	}
}

func TestTypeChangeBreaks(t *testing.T) {
	j := mustCompile(t, src(JSON, `{}`))
	a := mustCompile(t, src(Avro, `"string"`))
	r, err := CheckCompatibility(CompatBackward, a, []Version{{Number: 1, Schema: j}})
	if err != nil || r.Compatible() || !strings.Contains(r.String(), "schema type changed from json to avro") {
		t.Fatalf("got %v, %v", r, err)
	}
}

func TestParseCompatibility(t *testing.T) {
	for _, m := range Modes {
		if got, err := ParseCompatibility(strings.ToUpper(strings.ReplaceAll(string(m), "_", "-"))); err != nil || got != m {
			t.Errorf("%s: %v %v", m, got, err)
		}
	}
	if _, err := ParseCompatibility("sideways"); err == nil || !strings.Contains(err.Error(), "backward_transitive") {
		t.Errorf("got %v", err)
	}
	if _, err := CheckCompatibility("sideways", mustCompile(t, src(JSON, `{}`)), nil); err == nil {
		t.Error("bad mode accepted")
	}
}
