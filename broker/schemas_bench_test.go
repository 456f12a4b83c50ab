package broker

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/junctionhq/junction/broker/schema"
)

const benchBatch = 32

func benchSource(b *testing.B, typ schema.Type, message string, files ...string) *schema.Source {
	src := &schema.Source{Type: typ, Message: message}
	for _, f := range files {
		content, err := os.ReadFile(filepath.Join("schema", "testdata", f))
		if err != nil {
			b.Fatal(err)
		}
		src.Files = append(src.Files, schema.File{Name: f, Content: content})
	}
	return src
}

// benchJSON is an order of about size bytes valid under
// schema/testdata/order.schema.json.
func benchJSON(size int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"id":"o-000001","price":12.5,"status":"paid","items":[`)
	for i := 0; sb.Len() < size-40; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"sku":"sku-%04d","qty":%d}`, i, i%9+1)
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}

// BenchmarkProduceSchema measures produce throughput on a disk station
// with fsync always, 4 producers per core sending batches of 32, without
// a schema and with each schema type attached: the difference is what
// validation in the broker costs.
func BenchmarkProduceSchema(b *testing.B) {
	jsonSrc := benchSource(b, schema.JSON, "", "order.schema.json")
	avroSrc := benchSource(b, schema.Avro, "", "order.avsc")
	protoSrc := benchSource(b, schema.Protobuf, "shop.v1.Order", "order.proto", "shop/v1/item.proto")

	avroSch, err := avro.Parse(string(avroSrc.Files[0].Content))
	if err != nil {
		b.Fatal(err)
	}
	avroMsg, err := avro.Marshal(avroSch, map[string]any{
		"id": "o-000001", "price": 12.5, "qty": 3, "status": "PAID",
		"tags": []string{"gift", "express"}, "attrs": map[string]int64{"weight": 1200}, "note": nil,
	})
	if err != nil {
		b.Fatal(err)
	}
	item := func(sku string, qty uint64) []byte {
		m := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), sku)
		return protowire.AppendVarint(protowire.AppendTag(m, 2, protowire.VarintType), qty)
	}
	protoMsg := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "o-000001")
	protoMsg = protowire.AppendFixed64(protowire.AppendTag(protoMsg, 2, protowire.Fixed64Type), math.Float64bits(12.5))
	for i := range 4 {
		protoMsg = protowire.AppendBytes(protowire.AppendTag(protoMsg, 3, protowire.BytesType), item(fmt.Sprintf("sku-%04d", i), 2))
	}

	for _, c := range []struct {
		name string
		msg  []byte
		src  *schema.Source
	}{
		{"json-128B/no-schema", benchJSON(128), nil},
		{"json-128B/json-schema", benchJSON(128), jsonSrc},
		{"json-1KiB/no-schema", benchJSON(1024), nil},
		{"json-1KiB/json-schema", benchJSON(1024), jsonSrc},
		{fmt.Sprintf("avro-%dB/no-schema", len(avroMsg)), avroMsg, nil},
		{fmt.Sprintf("avro-%dB/avro", len(avroMsg)), avroMsg, avroSrc},
		{fmt.Sprintf("protobuf-%dB/no-schema", len(protoMsg)), protoMsg, nil},
		{fmt.Sprintf("protobuf-%dB/protobuf", len(protoMsg)), protoMsg, protoSrc},
	} {
		b.Run(c.name, func(b *testing.B) { benchProduce(b, c.msg, c.src) })
	}
}

func benchProduce(b *testing.B, msg []byte, src *schema.Source) {
	ctx := context.Background()
	br, err := Open(Options{DataDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler), RetentionInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	if _, err := br.CreateStation(ctx, StationConfig{Name: "s", Fsync: FsyncAlways}); err != nil {
		b.Fatal(err)
	}
	if src != nil {
		if _, _, err := br.CreateSchema(ctx, "order", *src, ""); err != nil {
			b.Fatal(err)
		}
		if _, err := br.AttachSchema(ctx, "s", StationSchema{Name: "order"}); err != nil {
			b.Fatal(err)
		}
	}
	batch := make([]Message, benchBatch)
	for i := range batch {
		batch[i].Value = msg
	}
	b.SetBytes(int64(len(msg) * benchBatch))
	b.ReportAllocs()
	b.SetParallelism(4)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := br.Produce(ctx, "s", batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*benchBatch)/time.Since(start).Seconds(), "msgs/s")
}
