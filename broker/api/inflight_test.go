package api

import (
	"context"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/junctionhq/junction/broker"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// countingBudget records what ProduceStream acquires and releases.
type countingBudget struct {
	mu                sync.Mutex
	acquired, held    int64
	acquires, release int
}

func (c *countingBudget) Acquire(_ context.Context, n int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.acquired += n
	c.held += n
	c.acquires++
	return nil
}

func (c *countingBudget) Release(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held -= n
	c.release++
}

func (c *countingBudget) snapshot() (acquired, held int64, acquires, releases int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acquired, c.held, c.acquires, c.release
}

// A ProduceStream request is charged to the in-flight budget with its size
// on the wire (the size of its protobuf encoding, which for the binary
// codec the decoder knows without walking the messages again), and the
// charge is released once it is answered; a request in JSON is charged its
// protobuf size.
func TestProduceStreamChargesRequestSize(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []connect.ClientOption
	}{
		{"proto", nil},
		{"json", []connect.ClientOption{connect.WithProtoJSON()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := openBroker(t)
			ctx := context.Background()
			if _, err := b.CreateStation(ctx, broker.StationConfig{Name: "s"}); err != nil {
				t.Fatal(err)
			}
			budget := new(countingBudget)
			st := serveAPIWith(t, b, Limits{InFlight: budget}, tc.opts...).ProduceStream(ctx)
			var want int64
			for seq := range uint64(3) {
				req := &v1.ProduceStreamRequest{Sequence: seq, Station: "s", Messages: sampleMessages()}
				want += int64(proto.Size(req))
				if err := st.Send(req); err != nil {
					t.Fatal(err)
				}
				resp, err := st.Receive()
				if err != nil || resp.Error != "" || resp.Sequence != seq {
					t.Fatalf("response %d: %v, err %v", seq, resp, err)
				}
			}
			if err := st.CloseRequest(); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Receive(); err == nil {
				t.Fatal("a response after the last request")
			}
			if err := st.CloseResponse(); err != nil {
				t.Fatal(err)
			}
			// The answer is sent before the handler returns, but the
			// charge is released before the answer is sent.
			acquired, held, acquires, releases := budget.snapshot()
			if acquired != want || acquires != 3 {
				t.Errorf("charged %d bytes in %d acquires, want %d in 3", acquired, acquires, want)
			}
			if held != 0 || releases != 3 {
				t.Errorf("%d bytes still held after %d releases, want 0 after 3", held, releases)
			}
		})
	}
}

// The binary decoder, fast path or not, records the request's wire size;
// release forgets it.
func TestStreamRequestWireBytes(t *testing.T) {
	good, err := proto.Marshal(&v1.ProduceStreamRequest{Sequence: 7, Station: "s", Messages: sampleMessages()})
	if err != nil {
		t.Fatal(err)
	}
	// An unknown field sends the request to proto.Unmarshal.
	slow := protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), good...), 99, protowire.VarintType), 1)
	for name, data := range map[string][]byte{"fast": good, "generic": slow} {
		r := &streamRequest{ProduceStreamRequest: new(v1.ProduceStreamRequest)}
		if err := produceCodec.Unmarshal(data, r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.wireBytes != len(data) {
			t.Errorf("%s: wireBytes %d, want %d", name, r.wireBytes, len(data))
		}
		r.release()
		if r.wireBytes != 0 {
			t.Errorf("%s: wireBytes %d after release, want 0", name, r.wireBytes)
		}
	}
}
