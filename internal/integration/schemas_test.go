package integration_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/junctionhq/junction/sdk/client"
)

func TestIntegrationSchemas(t *testing.T) {
	c := startBroker(t)
	ctx := testCtx(t)
	def := client.SchemaDefinition{Type: client.SchemaJSON, Files: []client.SchemaFile{{Name: "o.json", Content: []byte(`{"type":"object","required":["qty"]}`)}}}
	s, v, err := c.CreateSchema(ctx, "order", def, "")
	if err != nil || s.Compatibility != "backward" || v.Version != 1 || s.Type != client.SchemaJSON {
		t.Fatalf("create: %+v %+v %v", s, v, err)
	}
	if _, _, err := c.CreateSchema(ctx, "order", def, ""); !errors.Is(err, client.ErrSchemaExists) {
		t.Fatalf("create again: %v", err)
	}
	strict := def
	strict.Files = []client.SchemaFile{{Name: "o.json", Content: []byte(`{"type":"object","required":["qty","sku"]}`)}}
	_, _, err = c.UpdateSchema(ctx, "order", strict, "")
	var ce *client.Error
	if !errors.Is(err, client.ErrSchemaIncompatible) || !errors.As(err, &ce) || len(ce.Incompatibilities) != 1 || ce.Incompatibilities[0].Path != "/sku" {
		t.Fatalf("incompatible update: %v", err)
	}
	if _, _, err := c.CreateSchema(ctx, "x", client.SchemaDefinition{Type: "xml"}, ""); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("bad type: %v", err)
	}
	if _, err := c.CreateStation(ctx, client.StationConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	st, err := c.AttachSchema(ctx, "orders", client.StationSchema{Name: "order"})
	if err != nil || st.Schema == nil || st.Schema.Name != "order" || st.Schema.OnInvalid != client.OnInvalidReject {
		t.Fatalf("attach: %+v %v", st, err)
	}

	// Produce: the valid messages are stored, the error says which failed.
	results, err := c.Produce(ctx, "orders", client.Message{Value: []byte(`{"qty":1}`)}, client.Message{Value: []byte(`{}`)}, client.Message{Value: []byte(`{"qty":2}`)})
	if !errors.Is(err, client.ErrSchemaViolation) || !errors.As(err, &ce) || len(ce.Invalid) != 1 || ce.Invalid[0].Index != 1 || ce.Invalid[0].Rule != "required" {
		t.Fatalf("produce: %v", err)
	}
	if len(results) != 3 || results[0].Rejected || !results[1].Rejected || results[2].Offset != 1 {
		t.Fatalf("results %+v", results)
	}

	// A Producer fails only the rejected messages of its batch.
	p := c.NewProducer("orders", client.ProducerOptions{})
	var pend []client.Pending
	for _, v := range []string{`{"qty":3}`, `[]`, `{"qty":4}`} {
		pend = append(pend, p.Send(ctx, client.Message{Value: []byte(v)}))
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i, pd := range pend {
		r, err := pd.Wait(ctx)
		switch {
		case i == 1 && (!errors.Is(err, client.ErrSchemaViolation) || !strings.Contains(err.Error(), "does not match schema order@1: at /: type:")):
			t.Errorf("message 1: %v", err)
		case i != 1 && (err != nil || r.Rejected):
			t.Errorf("message %d: %+v %v", i, r, err)
		}
	}

	if err := c.DeleteSchema(ctx, "order"); !errors.Is(err, client.ErrSchemaInUse) || !errors.As(err, &ce) || ce.Stations[0] != "orders" {
		t.Fatalf("delete in use: %v", err)
	}
	if _, err := c.DetachSchema(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteSchema(ctx, "order"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.GetSchema(ctx, "order", 0); !errors.Is(err, client.ErrSchemaNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
}
