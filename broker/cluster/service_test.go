package cluster

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	"github.com/junctionhq/junction/broker"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

func TestServiceOnASingleNode(t *testing.T) {
	b, err := broker.Open(broker.Options{DataDir: t.TempDir(), ScrubBytesPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	s := NewService(nil, b)
	if _, err := s.Status(ctx, connect.NewRequest(&v1.ClusterStatusRequest{})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("Status on a single node: %v, want FAILED_PRECONDITION", err)
	}
	if _, err := s.AddNode(ctx, connect.NewRequest(&v1.AddNodeRequest{NodeId: "n2", RaftAddress: "127.0.0.1:1"})); connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("AddNode on a single node: %v, want FAILED_PRECONDITION", err)
	}

	if _, err := b.CreateStation(ctx, broker.StationConfig{Name: "orders", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Produce(ctx, "orders", []broker.Message{{Key: []byte("k"), Value: []byte("a")}, {Value: []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	resp, err := s.ReadPartition(ctx, connect.NewRequest(&v1.ReadPartitionRequest{Station: "orders", From: 1}))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Msg.NextOffset != 2 || len(resp.Msg.Records) != 1 || resp.Msg.Records[0].Offset != 1 || string(resp.Msg.Records[0].Value) != "b" ||
		resp.Msg.Records[0].Timestamp.AsTime().IsZero() {
		t.Errorf("ReadPartition from 1: %+v", resp.Msg)
	}
	resp, err = s.ReadPartition(ctx, connect.NewRequest(&v1.ReadPartitionRequest{Station: "orders", From: 2}))
	if err != nil || len(resp.Msg.Records) != 0 || resp.Msg.NextOffset != 2 {
		t.Errorf("ReadPartition at the end: %+v, %v", resp, err)
	}
	for name, req := range map[string]*v1.ReadPartitionRequest{
		"missing station":   {Station: "nope"},
		"missing partition": {Station: "orders", Partition: 1},
	} {
		if _, err := s.ReadPartition(ctx, connect.NewRequest(req)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for name, c := range map[string]Config{
		"no id":            {RaftListen: "127.0.0.1:1", DataDir: "d"},
		"no listen":        {NodeID: "n1", DataDir: "d"},
		"no data":          {NodeID: "n1", RaftListen: "127.0.0.1:1"},
		"wildcard address": {NodeID: "n1", RaftListen: ":7401", DataDir: "d"},
		"not host:port":    {NodeID: "n1", RaftListen: "localhost", DataDir: "d"},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted %+v", name, c)
		}
	}
	if _, err := New(Config{NodeID: "n1", RaftListen: ":7401", RaftAdvertise: "10.0.0.1:7401", DataDir: "d"}); err != nil {
		t.Errorf("a wildcard listen address with an advertised one: %v", err)
	}
}
