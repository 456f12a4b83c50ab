package main

import (
	"context"
	"testing"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"cloud.google.com/go/bigquery/storage/managedwriter"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/junctionhq/junction/sdk/connector"
)

// TestFakePendingStream checks the fake's PENDING stream path through the
// official client, which the connector does not use: rows stay invisible
// until BatchCommitWriteStreams, which refuses streams not finalized.
func TestFakePendingStream(t *testing.T) {
	f := newFakeBQ(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	snk, _ := openSink(t, f.config(nil), "to-bq", 1) // creates the table
	_ = snk.Teardown(ctx)
	cl, err := managedwriter.NewClient(ctx, testProject, option.WithEndpoint(f.grpcAddr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	codec, err := newRowCodec("json", "orders", jsonSchema())
	if err != nil {
		t.Fatal(err)
	}
	parent := managedwriter.TableParentFromParts(testProject, "ds", "events")
	ms, err := cl.NewManagedStream(ctx, managedwriter.WithDestinationTable(parent), managedwriter.WithType(managedwriter.PendingStream),
		managedwriter.WithSchemaDescriptor(codec.desc))
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	row, _, _ := codec.encode(nil, connector.Record{Value: []byte(`{"a":1}`)})
	res, err := ms.AppendRows(ctx, [][]byte{row, row}, managedwriter.WithOffset(0))
	if err != nil {
		t.Fatal(err)
	}
	if off, err := res.GetResult(ctx); err != nil || off != 0 {
		t.Fatalf("append: offset %d, %v", off, err)
	}
	// An offset conflict comes back in-band; the connection stays usable.
	res, _ = ms.AppendRows(ctx, [][]byte{row}, managedwriter.WithOffset(0))
	if _, err := res.GetResult(ctx); storageError(err).GetCode() != storagepb.StorageError_OFFSET_ALREADY_EXISTS {
		t.Fatalf("append at a used offset: %v", err)
	}
	res, _ = ms.AppendRows(ctx, [][]byte{row}, managedwriter.WithOffset(5))
	if _, err := res.GetResult(ctx); storageError(err).GetCode() != storagepb.StorageError_OFFSET_OUT_OF_RANGE {
		t.Fatalf("append past the end: %v", err)
	}
	if n := len(f.rows("ds", "events")); n != 0 {
		t.Fatalf("%d rows visible before the commit", n)
	}
	resp, err := cl.BatchCommitWriteStreams(ctx, &storagepb.BatchCommitWriteStreamsRequest{Parent: parent, WriteStreams: []string{ms.StreamName()}})
	if err != nil || len(resp.GetStreamErrors()) != 1 || resp.GetStreamErrors()[0].GetCode() != storagepb.StorageError_INVALID_STREAM_STATE {
		t.Fatalf("commit before finalize: %v %v", resp, err)
	}
	if n, err := ms.Finalize(ctx); err != nil || n != 2 {
		t.Fatalf("finalize: %d rows, %v", n, err)
	}
	resp, err = cl.BatchCommitWriteStreams(ctx, &storagepb.BatchCommitWriteStreamsRequest{Parent: parent, WriteStreams: []string{ms.StreamName()}})
	if err != nil || len(resp.GetStreamErrors()) != 0 || resp.GetCommitTime() == nil {
		t.Fatalf("commit: %v %v", resp, err)
	}
	if n := len(f.rows("ds", "events")); n != 2 {
		t.Fatalf("%d rows after the commit, want 2", n)
	}
}
