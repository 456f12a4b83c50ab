package server

import (
	"context"
	"strconv"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// TestSIGKILLMidReplayReplaysNothingTwice kills the broker process while
// it replays a dead-letter station, restarts it, replays again, and checks
// that every dead letter reached its origin exactly once.
func TestSIGKILLMidReplayReplaysNothingTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped with -short")
	}
	const n = 20000
	dir := t.TempDir()
	ch := startChild(t, dir)
	c := newClients(ch.addr)
	dlqClient := func(addr string) junctionv1connect.DeadLetterServiceClient {
		return junctionv1connect.NewDeadLetterServiceClient(h2cClient(), "http://"+addr, connect.WithGRPC())
	}
	schemas := junctionv1connect.NewSchemaServiceClient(h2cClient(), "http://"+ch.addr, connect.WithGRPC())
	ctx := context.Background()
	for _, st := range []*v1.Station{{Name: "orders-dlq"}, {Name: "orders", DeadLetterStation: "orders-dlq"}} {
		if _, err := c.stations.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: st})); err != nil {
			t.Fatal(err)
		}
	}
	def := func(min int) *v1.SchemaDefinition {
		return &v1.SchemaDefinition{Type: v1.SchemaType_SCHEMA_TYPE_JSON, Files: []*v1.SchemaFile{{Name: "n.json", Content: []byte(`{"type":"integer","minimum":` + strconv.Itoa(min) + `}`)}}}
	}
	if _, err := schemas.CreateSchema(ctx, connect.NewRequest(&v1.CreateSchemaRequest{Name: "num", Definition: def(0), Compatibility: v1.Compatibility_COMPATIBILITY_NONE})); err != nil {
		t.Fatal(err)
	}
	if _, err := schemas.AttachSchema(ctx, connect.NewRequest(&v1.AttachSchemaRequest{Station: "orders", Schema: "num", OnInvalid: v1.OnInvalid_ON_INVALID_DEAD_LETTER})); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 1000 {
		msgs := make([]*v1.Message, 1000)
		for j := range msgs {
			msgs[j] = &v1.Message{Value: []byte(strconv.Itoa(-1 - i - j))}
		}
		if _, err := c.messages.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: "orders", Messages: msgs})); err != nil {
			t.Fatal(err)
		}
	}
	// Fix the cause: negative numbers become valid.
	if _, err := schemas.UpdateSchema(ctx, connect.NewRequest(&v1.UpdateSchemaRequest{Name: "num", Definition: def(-n - 1)})); err != nil {
		t.Fatal(err)
	}

	replayed := make(chan error, 1)
	go func() {
		_, err := dlqClient(ch.addr).ReplayDeadLetters(ctx, connect.NewRequest(&v1.ReplayDeadLettersRequest{Station: "orders-dlq", Selection: &v1.ReplayDeadLettersRequest_All{All: true}}))
		replayed <- err
	}()
	waitFor(t, func() bool {
		resp, err := c.stations.GetStation(ctx, connect.NewRequest(&v1.GetStationRequest{Name: "orders"}))
		return err == nil && resp.Msg.Stats.Messages >= n/4
	})
	ch.kill(t)
	if err := <-replayed; err == nil {
		t.Log("the replay finished before the kill; the second replay must then send nothing")
	}

	ch = startChild(t, dir)
	c = newClients(ch.addr)
	resp, err := dlqClient(ch.addr).ReplayDeadLetters(ctx, connect.NewRequest(&v1.ReplayDeadLettersRequest{Station: "orders-dlq", Selection: &v1.ReplayDeadLettersRequest_All{All: true}}))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Msg.Replayed+resp.Msg.AlreadyReplayed != n || len(resp.Msg.Failed) != 0 {
		t.Fatalf("second replay: %v", resp.Msg)
	}
	seen := make(map[string]int, n)
	for _, v := range readStation(t, c, "orders", "verify") {
		seen[v]++
	}
	for i := 1; i <= n; i++ {
		if k := seen[strconv.Itoa(-i)]; k != 1 {
			t.Fatalf("dead letter %d reached its origin %d times", -i, k)
		}
	}
	if len(seen) != n {
		t.Fatalf("the origin holds %d distinct messages, want %d", len(seen), n)
	}
	t.Logf("replayed %d before the kill, %d after", resp.Msg.AlreadyReplayed, resp.Msg.Replayed)
}
