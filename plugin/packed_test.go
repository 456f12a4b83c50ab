package plugin

import (
	"bytes"
	"testing"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/protocol"
)

// TestAppendPackedMatchesRecords checks that deliveries packed directly
// are the bytes the SDK packs for their connector.Records, so a plugin
// decodes the same records either way.
func TestAppendPackedMatchesRecords(t *testing.T) {
	ds := []broker.Delivery{
		{Partition: 3, Record: broker.Record{Offset: 7, Timestamp: 1700000000000000005, Key: []byte("k"), Value: []byte("v"),
			Headers: []broker.Header{{Key: "a", Value: []byte("1")}, {Key: "b"}}}},
		{Record: broker.Record{Offset: 8, Key: []byte{}, Value: nil}},
		{Partition: 1, Record: broker.Record{Offset: 1 << 40, Timestamp: -1, Value: make([]byte, 128)}},
	}
	recs := make([]connector.Record, len(ds))
	for i := range ds {
		recs[i] = toConnectorRecord(&ds[i])
	}
	want := protocol.AppendPacked(nil, recs)
	got := appendPacked([]byte("reused buffer")[:0], ds)
	if !bytes.Equal(got, want) {
		t.Fatalf("packed deliveries:\n got %x\nwant %x", got, want)
	}
	back, err := protocol.DecodePacked(got)
	if err != nil || len(back) != len(ds) || back[2].Offset != 1<<40 || string(back[0].Headers[0].Value) != "1" {
		t.Fatalf("decoded %+v, %v", back, err)
	}
}
