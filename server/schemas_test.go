package server

import (
	"context"
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

func errorInfo(t *testing.T, err error) *v1.ErrorInfo {
	t.Helper()
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("err = %v, want a connect error", err)
	}
	for _, d := range cerr.Details() {
		if v, derr := d.Value(); derr == nil {
			if info, ok := v.(*v1.ErrorInfo); ok {
				return info
			}
		}
	}
	t.Fatalf("error %v carries no ErrorInfo", err)
	return nil
}

func TestSchemaAPI(t *testing.T) {
	s, c := startInProcess(t)
	ctx := context.Background()
	schemas := junctionv1connect.NewSchemaServiceClient(h2cClient(), "http://"+s.Addr(), connect.WithGRPC())
	def := func(text string) *v1.SchemaDefinition {
		return &v1.SchemaDefinition{Type: v1.SchemaType_SCHEMA_TYPE_JSON, Files: []*v1.SchemaFile{{Name: "order.json", Content: []byte(text)}}}
	}
	const v1Text = `{"type":"object","properties":{"qty":{"type":"integer","minimum":1}},"required":["qty"]}`

	_, err := schemas.CreateSchema(ctx, connect.NewRequest(&v1.CreateSchemaRequest{Name: "order", Definition: def(`{"type":"nope"}`)}))
	wantReason(t, err, connect.CodeInvalidArgument, v1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, "definition")
	created, err := schemas.CreateSchema(ctx, connect.NewRequest(&v1.CreateSchemaRequest{Name: "order", Definition: def(v1Text)}))
	if err != nil {
		t.Fatal(err)
	}
	if created.Msg.Schema.Compatibility != v1.Compatibility_COMPATIBILITY_BACKWARD || created.Msg.Version.Version != 1 {
		t.Fatalf("created %v", created.Msg)
	}
	_, err = schemas.UpdateSchema(ctx, connect.NewRequest(&v1.UpdateSchemaRequest{Name: "order", Definition: def(strings.Replace(v1Text, `"minimum":1`, `"minimum":2`, 1))}))
	wantReason(t, err, connect.CodeFailedPrecondition, v1.ErrorReason_ERROR_REASON_SCHEMA_INCOMPATIBLE, "")
	if info := errorInfo(t, err); len(info.Incompatibilities) != 1 || info.Incompatibilities[0].Path != "/qty" || info.Schema != "order" {
		t.Fatalf("incompatibilities %v", info)
	}

	for _, name := range []string{"orders-dlq", "orders"} {
		if _, err := c.stations.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: name}})); err != nil {
			t.Fatal(err)
		}
	}
	att, err := schemas.AttachSchema(ctx, connect.NewRequest(&v1.AttachSchemaRequest{Station: "orders", Schema: "order"}))
	if err != nil || att.Msg.Station.Schema.GetName() != "order" || att.Msg.Station.Schema.OnInvalid != v1.OnInvalid_ON_INVALID_REJECT {
		t.Fatalf("attach: %v %v", att, err)
	}
	got, err := c.stations.GetStation(ctx, connect.NewRequest(&v1.GetStationRequest{Name: "orders"}))
	if err != nil || got.Msg.Station.Schema.GetName() != "order" {
		t.Fatalf("station %v %v", got, err)
	}

	msgs := []*v1.Message{{Value: []byte(`{"qty":1}`)}, {Value: []byte(`{"qty":0}`)}, {Value: []byte(`{"qty":2}`)}}
	_, err = c.messages.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: "orders", Messages: msgs}))
	wantReason(t, err, connect.CodeInvalidArgument, v1.ErrorReason_ERROR_REASON_SCHEMA_VIOLATION, "")
	info := errorInfo(t, err)
	if len(info.InvalidMessages) != 1 || info.InvalidMessages[0].Index != 1 || info.InvalidMessages[0].Path != "/qty" || info.InvalidMessages[0].Rule != "minimum" || info.Schema != "order@1" {
		t.Fatalf("invalid messages %v", info)
	}
	if len(info.Results) != 3 || !info.Results[1].Rejected || info.Results[2].Offset != 1 {
		t.Fatalf("results %v", info.Results)
	}
	if !strings.Contains(err.Error(), "message 1 at /qty: minimum:") {
		t.Fatalf("message %q", err)
	}

	// The same over ProduceStream.
	stream := c.messages.ProduceStream(ctx)
	if err := stream.Send(&v1.ProduceStreamRequest{Sequence: 1, Station: "orders", Messages: msgs}); err != nil {
		t.Fatal(err)
	}
	stream.CloseRequest()
	resp, err := stream.Receive()
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorInfo.GetReason() != v1.ErrorReason_ERROR_REASON_SCHEMA_VIOLATION || len(resp.ErrorInfo.InvalidMessages) != 1 || len(resp.Results) != 3 || resp.Results[2].Offset != 3 {
		t.Fatalf("stream response %v", resp)
	}
	stream.CloseResponse()

	// Dead-letter mode needs a dead-letter station.
	_, err = schemas.AttachSchema(ctx, connect.NewRequest(&v1.AttachSchemaRequest{Station: "orders", Schema: "order", OnInvalid: v1.OnInvalid_ON_INVALID_DEAD_LETTER}))
	wantReason(t, err, connect.CodeInvalidArgument, v1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, "on_invalid")

	_, err = schemas.DeleteSchema(ctx, connect.NewRequest(&v1.DeleteSchemaRequest{Name: "order"}))
	wantReason(t, err, connect.CodeFailedPrecondition, v1.ErrorReason_ERROR_REASON_SCHEMA_IN_USE, "")
	if info := errorInfo(t, err); len(info.Stations) != 1 || info.Stations[0] != "orders" {
		t.Fatalf("in use by %v", info.Stations)
	}
	list, err := schemas.ListSchemas(ctx, connect.NewRequest(&v1.ListSchemasRequest{}))
	if err != nil || len(list.Msg.Schemas) != 1 || list.Msg.Schemas[0].Stations[0] != "orders" {
		t.Fatalf("list %v %v", list, err)
	}
	if _, err := schemas.DetachSchema(ctx, connect.NewRequest(&v1.DetachSchemaRequest{Station: "orders"})); err != nil {
		t.Fatal(err)
	}
	if _, err := schemas.DeleteSchema(ctx, connect.NewRequest(&v1.DeleteSchemaRequest{Name: "order"})); err != nil {
		t.Fatal(err)
	}
	_, err = schemas.GetSchema(ctx, connect.NewRequest(&v1.GetSchemaRequest{Name: "order"}))
	wantReason(t, err, connect.CodeNotFound, v1.ErrorReason_ERROR_REASON_SCHEMA_NOT_FOUND, "")
}
