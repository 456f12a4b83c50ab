package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/junctionhq/junction/broker/schema"
	"github.com/junctionhq/junction/broker/seglog"
)

const orderSchemaV1 = `{"type":"object","properties":{"id":{"type":"string"},"qty":{"type":"integer","minimum":1}},"required":["id","qty"]}`

func jsonSource(text string) schema.Source {
	return schema.Source{Type: schema.JSON, Files: []schema.File{{Name: "order.json", Content: []byte(text)}}}
}

func header(r seglog.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func readAll(t *testing.T, b *Broker, station string) []seglog.Record {
	t.Helper()
	recs, err := b.Read(station, 0, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestSchemaRegistryVersionsAndPersistence(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := openTest(t, dir)
	info, v, err := b.CreateSchema(ctx, "orders", jsonSource(orderSchemaV1), "")
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != 1 || info.Compatibility != schema.CompatBackward || info.Type != schema.JSON {
		t.Fatalf("got %+v %+v", info, v)
	}
	if _, _, err := b.CreateSchema(ctx, "orders", jsonSource(orderSchemaV1), ""); !errors.Is(err, ErrSchemaExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	if _, _, err := b.CreateSchema(ctx, "bad", jsonSource(`{"type":`), ""); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "order.json") {
		t.Fatalf("bad definition: %v", err)
	}
	if _, _, err := b.CreateSchema(ctx, "bad name!", jsonSource(orderSchemaV1), ""); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad name: %v", err)
	}
	gql := schema.Source{Type: schema.GraphQL, Files: []schema.File{{Name: "s.graphql", Content: []byte(`type Query { a: Int }`)}}}
	if _, _, err := b.CreateSchema(ctx, "gql", gql, schema.CompatBackward); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("graphql with backward: %v", err)
	}
	if info, _, err := b.CreateSchema(ctx, "gql", gql, ""); err != nil || info.Compatibility != schema.CompatNone {
		t.Fatalf("graphql: %+v %v", info, err)
	}

	// Backward: a new required property is refused, with the change named.
	v2bad := strings.Replace(orderSchemaV1, `"required":["id","qty"]`, `"properties2":{},"required":["id","qty","note"]`, 1)
	_, _, err = b.UpdateSchema(ctx, "orders", jsonSource(strings.Replace(v2bad, `"properties2":{},`, "", 1)), "")
	var ie *IncompatibleSchemaError
	if !errors.As(err, &ie) || !errors.Is(err, ErrSchemaIncompatible) || !strings.Contains(err.Error(), `property "note" became required`) {
		t.Fatalf("incompatible update: %v", err)
	}
	// Relaxing a bound is backward compatible.
	if _, v, err = b.UpdateSchema(ctx, "orders", jsonSource(strings.Replace(orderSchemaV1, `"minimum":1`, `"minimum":0`, 1)), ""); err != nil || v.Version != 2 {
		t.Fatalf("compatible update: %+v %v", v, err)
	}
	// The same change is refused once the mode is forward.
	if _, _, err = b.UpdateSchema(ctx, "orders", jsonSource(strings.Replace(orderSchemaV1, `"minimum":1`, `"minimum":-5`, 1)), schema.CompatForward); !errors.Is(err, ErrSchemaIncompatible) {
		t.Fatalf("forward update: %v", err)
	}
	if _, _, err := b.UpdateSchema(ctx, "nope", jsonSource(orderSchemaV1), ""); !errors.Is(err, ErrSchemaNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	b.Close()

	b = openTest(t, dir)
	info, v, err = b.Schema(ctx, "orders", 0)
	if err != nil || v.Version != 2 || len(info.Versions) != 2 || !strings.Contains(string(v.Source.Files[0].Content), `"minimum":0`) {
		t.Fatalf("after restart: %+v %+v %v", info, v, err)
	}
	if _, v, err = b.Schema(ctx, "orders", 1); err != nil || !strings.Contains(string(v.Source.Files[0].Content), `"minimum":1`) {
		t.Fatalf("version 1: %+v %v", v, err)
	}
	if _, _, err = b.Schema(ctx, "orders", 3); !errors.Is(err, ErrSchemaNotFound) {
		t.Fatalf("version 3: %v", err)
	}
	all, err := b.Schemas(ctx)
	if err != nil || len(all) != 2 || all[0].Name != "gql" || all[1].Name != "orders" {
		t.Fatalf("list: %+v %v", all, err)
	}
}

func TestSchemaRejectMixedBatch(t *testing.T) {
	ctx := context.Background()
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "orders", DedupWindow: 60e9})
	if _, _, err := b.CreateSchema(ctx, "order", jsonSource(orderSchemaV1), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AttachSchema(ctx, "orders", StationSchema{Name: "order"}); err != nil {
		t.Fatal(err)
	}
	msgs := []Message{
		{Value: []byte(`{"id":"a","qty":1}`), ID: "a"},
		{Value: []byte(`{"id":"b","qty":0}`), ID: "b"},
		{Value: []byte(`{"id":"c","qty":3}`), ID: "c", Headers: []seglog.Header{{Key: "k", Value: []byte("v")}, {Key: HeaderSchema, Value: []byte("forged@9")}}},
		{Value: []byte(`{"id":"d"}`), ID: "d"},
		{Value: []byte(`not json`), ID: "e"},
	}
	results, err := b.Produce(ctx, "orders", msgs)
	var sv *SchemaViolationError
	if !errors.As(err, &sv) || !errors.Is(err, ErrSchemaViolation) {
		t.Fatalf("got %v", err)
	}
	if len(sv.Invalid) != 3 || sv.Schema != "order@1" {
		t.Fatalf("invalid: %+v", sv)
	}
	want := []InvalidMessage{{Index: 1, Path: "/qty", Rule: "minimum"}, {Index: 3, Path: "", Rule: "required"}, {Index: 4, Path: "", Rule: "json"}}
	for i, w := range want {
		if g := sv.Invalid[i]; g.Index != w.Index || g.Path != w.Path || g.Rule != w.Rule || g.Reason == "" {
			t.Errorf("invalid[%d] = %+v, want %+v", i, g, w)
		}
	}
	if !strings.Contains(err.Error(), "message 1 at /qty: minimum:") || !strings.Contains(err.Error(), "the other 2 were stored") {
		t.Errorf("error %q", err)
	}
	if len(results) != 5 || results[0].Rejected || !results[1].Rejected || results[2].Offset != 1 || !results[3].Rejected || !results[4].Rejected {
		t.Fatalf("results %+v", results)
	}
	recs := readAll(t, b, "orders")
	if len(recs) != 2 || string(recs[0].Value) != `{"id":"a","qty":1}` || string(recs[1].Value) != `{"id":"c","qty":3}` {
		t.Fatalf("stored %d records", len(recs))
	}
	for _, r := range recs {
		if h, _ := header(r, HeaderSchema); h != "order@1" {
			t.Errorf("offset %d: %s = %q", r.Offset, HeaderSchema, h)
		}
	}
	if h, ok := header(recs[1], "k"); !ok || h != "v" || len(recs[1].Headers) != 3 {
		t.Errorf("headers of offset 1: %+v", recs[1].Headers)
	}
	// The producer fixes the invalid ones and sends the batch again: the
	// valid ones are not stored twice.
	msgs[1].Value, msgs[3].Value, msgs[4].Value = []byte(`{"id":"b","qty":2}`), []byte(`{"id":"d","qty":4}`), []byte(`{"id":"e","qty":5}`)
	results, err = b.Produce(ctx, "orders", msgs)
	if err != nil {
		t.Fatal(err)
	}
	if !results[0].Duplicate || !results[2].Duplicate || results[1].Duplicate {
		t.Fatalf("retry results %+v", results)
	}
	if recs := readAll(t, b, "orders"); len(recs) != 5 {
		t.Fatalf("%d records after retry, want 5", len(recs))
	}

	// A batch of only invalid messages stores nothing.
	if _, err := b.Produce(ctx, "orders", []Message{{Value: []byte(`{}`)}}); !errors.Is(err, ErrSchemaViolation) {
		t.Fatalf("got %v", err)
	}
	if recs := readAll(t, b, "orders"); len(recs) != 5 {
		t.Fatalf("%d records, want 5", len(recs))
	}
}

func TestSchemaDeadLetterMode(t *testing.T) {
	ctx := context.Background()
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "orders-dlq"})
	mustCreate(t, b, StationConfig{Name: "orders"})
	if _, _, err := b.CreateSchema(ctx, "order", jsonSource(orderSchemaV1), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AttachSchema(ctx, "orders", StationSchema{Name: "order", OnInvalid: OnInvalidDeadLetter}); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "no dead-letter station") {
		t.Fatalf("dead-letter without a dead-letter station: %v", err)
	}
	dlq := "orders-dlq"
	if _, err := b.UpdateStation(ctx, "orders", StationUpdate{DeadLetterStation: &dlq}); err != nil {
		t.Fatal(err)
	}
	cfg, err := b.AttachSchema(ctx, "orders", StationSchema{Name: "order", Version: 1, OnInvalid: OnInvalidDeadLetter})
	if err != nil || cfg.Schema == nil || cfg.Schema.Version != 1 {
		t.Fatalf("attach: %+v %v", cfg, err)
	}
	results, err := b.Produce(ctx, "orders", []Message{
		{Value: []byte(`{"id":"a","qty":1}`)},
		{Key: []byte("k"), Value: []byte(`{"id":"b","qty":0}`)},
		{Value: []byte(`{"id":"c","qty":2}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if results[0].DeadLettered || !results[1].DeadLettered || results[1].Offset != 0 || results[2].Offset != 1 {
		t.Fatalf("results %+v", results)
	}
	if recs := readAll(t, b, "orders"); len(recs) != 2 {
		t.Fatalf("%d records on the station, want 2", len(recs))
	}
	dead := readAll(t, b, "orders-dlq")
	if len(dead) != 1 || string(dead[0].Key) != "k" {
		t.Fatalf("dead letters: %+v", dead)
	}
	for k, want := range map[string]string{
		HeaderDLQReason: DLQReasonSchema, HeaderDLQStation: "orders", HeaderDLQSchema: "order@1",
		HeaderDLQError: "at /qty: minimum: ",
	} {
		if got, _ := header(dead[0], k); !strings.HasPrefix(got, want) {
			t.Errorf("%s = %q, want %q...", k, got, want)
		}
	}
	if _, ok := header(dead[0], HeaderSchema); ok {
		t.Error("a dead letter carries the schema header")
	}
}

func TestSchemaAttachPinsAndFollowsVersions(t *testing.T) {
	ctx := context.Background()
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "pinned"})
	mustCreate(t, b, StationConfig{Name: "latest"})
	if _, _, err := b.CreateSchema(ctx, "order", jsonSource(orderSchemaV1), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AttachSchema(ctx, "pinned", StationSchema{Name: "order", Version: 2}); !errors.Is(err, ErrSchemaNotFound) {
		t.Fatalf("attach missing version: %v", err)
	}
	if _, err := b.AttachSchema(ctx, "pinned", StationSchema{Name: "nope"}); !errors.Is(err, ErrSchemaNotFound) {
		t.Fatalf("attach missing schema: %v", err)
	}
	if _, err := b.AttachSchema(ctx, "nope", StationSchema{Name: "order"}); !errors.Is(err, ErrStationNotFound) {
		t.Fatalf("attach to missing station: %v", err)
	}
	if _, err := b.AttachSchema(ctx, "pinned", StationSchema{Name: "order", OnInvalid: "drop"}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad on-invalid: %v", err)
	}
	for st, v := range map[string]uint32{"pinned": 1, "latest": 0} {
		if _, err := b.AttachSchema(ctx, st, StationSchema{Name: "order", Version: v}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := b.UpdateSchema(ctx, "order", jsonSource(strings.Replace(orderSchemaV1, `"minimum":1`, `"minimum":0`, 1)), ""); err != nil {
		t.Fatal(err)
	}
	zero := []Message{{Value: []byte(`{"id":"a","qty":0}`)}}
	if _, err := b.Produce(ctx, "pinned", zero); !errors.Is(err, ErrSchemaViolation) {
		t.Fatalf("pinned to version 1: %v", err)
	}
	if _, err := b.Produce(ctx, "latest", zero); err != nil {
		t.Fatalf("following the latest: %v", err)
	}
	if h, _ := header(readAll(t, b, "latest")[0], HeaderSchema); h != "order@2" {
		t.Fatalf("header %q", h)
	}

	// Delete is refused while attached, naming the stations.
	err := b.DeleteSchema(ctx, "order")
	var iu *SchemaInUseError
	if !errors.As(err, &iu) || !errors.Is(err, ErrSchemaInUse) || strings.Join(iu.Stations, ",") != "latest,pinned" {
		t.Fatalf("delete while attached: %v", err)
	}
	info, _, _ := b.Schema(ctx, "order", 0)
	if strings.Join(info.Stations, ",") != "latest,pinned" {
		t.Fatalf("stations %v", info.Stations)
	}
	for _, st := range []string{"latest", "pinned"} {
		if cfg, err := b.DetachSchema(ctx, st); err != nil || cfg.Schema != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Produce(ctx, "pinned", zero); err != nil {
		t.Fatalf("after detach: %v", err)
	}
	if err := b.DeleteSchema(ctx, "order"); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteSchema(ctx, "order"); !errors.Is(err, ErrSchemaNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestSchemaAttachmentSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := openTest(t, dir)
	mustCreate(t, b, StationConfig{Name: "orders"})
	if _, _, err := b.CreateSchema(ctx, "order", jsonSource(orderSchemaV1), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AttachSchema(ctx, "orders", StationSchema{Name: "order"}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b = openTest(t, dir)
	cfg, _, err := b.Station("orders")
	if err != nil || cfg.Schema == nil || cfg.Schema.Name != "order" || cfg.Schema.OnInvalid != OnInvalidReject {
		t.Fatalf("%+v %v", cfg.Schema, err)
	}
	if _, err := b.Produce(ctx, "orders", []Message{{Value: []byte(`{}`)}}); !errors.Is(err, ErrSchemaViolation) {
		t.Fatalf("got %v", err)
	}
}

func TestSchemaConcurrentProduceAndUpdates(t *testing.T) {
	ctx := context.Background()
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "orders", Fsync: FsyncNever})
	if _, _, err := b.CreateSchema(ctx, "order", jsonSource(orderSchemaV1), schema.CompatNone); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AttachSchema(ctx, "orders", StationSchema{Name: "order"}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 3)
	go func() {
		for range 200 {
			if _, err := b.Produce(ctx, "orders", []Message{{Value: []byte(`{"id":"a","qty":1}`)}}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	go func() {
		for range 20 {
			if _, _, err := b.UpdateSchema(ctx, "order", jsonSource(orderSchemaV1), ""); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	go func() {
		for range 50 {
			if _, err := b.Schemas(ctx); err != nil {
				done <- err
				return
			}
			if err := b.DeleteSchema(ctx, "order"); !errors.Is(err, ErrSchemaInUse) {
				done <- fmt.Errorf("delete while attached: %v", err)
				return
			}
		}
		done <- nil
	}()
	for range 3 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if info, _, _ := b.Schema(ctx, "order", 0); info.Latest() != 21 {
		t.Fatalf("latest %d, want 21", info.Latest())
	}
}
