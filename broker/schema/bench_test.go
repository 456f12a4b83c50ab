package schema

import (
	"fmt"
	"strings"
	"testing"
)

// jsonOrder builds a JSON order of about size bytes that orderJSON accepts.
func jsonOrder(size int) []byte {
	var b strings.Builder
	b.WriteString(`{"id":"o-000001","price":12.5,"status":"paid","items":[`)
	for i := 0; b.Len() < size-40; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sku":"sku-%04d","qty":%d}`, i, i%9+1)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkValidate measures the cost of validating one message per type;
// -benchmem shows the allocations (none for Avro and Protobuf).
func BenchmarkValidate(b *testing.B) {
	js := orderJSON(b)
	av := orderAvro(b)
	pb := orderProto(b)
	gq := orderGraphQL(b)
	cases := []struct {
		name string
		s    *Schema
		msg  []byte
	}{
		{"json-128B", js, jsonOrder(128)},
		{"json-1KiB", js, jsonOrder(1024)},
		{"avro", av, avroOrder(b, av, "note")},
		{"protobuf", pb, protoOrder(b, pb, `{"id":"o-000001","price":12.5,"items":[{"sku":"sku-0001","qty":2},{"sku":"sku-0002","qty":1}],"createdAt":"2026-01-02T03:04:05Z","status":"STATUS_PAID","codes":[1,2,3]}`)},
		{"graphql", gq, []byte(`query { order(id: "o-000001") { id price items { sku qty } } }`)},
	}
	for _, c := range cases {
		if err := c.s.Validate(c.msg); err != nil {
			b.Fatalf("%s: %v", c.name, err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.msg)))
			for b.Loop() {
				if err := c.s.Validate(c.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestValidateAllocations pins the allocation-free validation of Avro and
// Protobuf messages.
func TestValidateAllocations(t *testing.T) {
	av, pb := orderAvro(t), orderProto(t)
	am := avroOrder(t, av, "note")
	pm := protoOrder(t, pb, `{"id":"o1","items":[{"sku":"a","qty":2}],"codes":[1,2]}`)
	for name, f := range map[string]func(){
		"avro":     func() { av.Validate(am) },
		"protobuf": func() { pb.Validate(pm) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per valid message, want 0", name, n)
		}
	}
}
