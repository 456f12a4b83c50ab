package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/junctionhq/junction/broker"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// serveAPI serves the API handlers of b on a free 127.0.0.1 port over
// h2c and returns a MessageService client for it.
func serveAPI(t *testing.T, b *broker.Broker, opts ...connect.ClientOption) junctionv1connect.MessageServiceClient {
	t.Helper()
	return serveAPIWith(t, b, Limits{}, opts...)
}

// serveAPIWith is serveAPI with limits.
func serveAPIWith(t *testing.T, b *broker.Broker, limits Limits, opts ...connect.ClientOption) junctionv1connect.MessageServiceClient {
	t.Helper()
	mux := http.NewServeMux()
	hs, _ := Handlers(b, limits)
	for path, h := range hs {
		mux.Handle(path, h)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: mux, Protocols: &protos}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	var cprotos http.Protocols
	cprotos.SetUnencryptedHTTP2(true)
	hc := &http.Client{Transport: &http.Transport{Protocols: &cprotos}}
	t.Cleanup(hc.CloseIdleConnections)
	return junctionv1connect.NewMessageServiceClient(hc, "http://"+ln.Addr().String(), append([]connect.ClientOption{connect.WithGRPC()}, opts...)...)
}

// Requests of concurrent streams decode into slabs the next request
// reuses; every stored message must still be the one that was sent.
func TestProduceStreamStoresWhatWasSent(t *testing.T) {
	b := openBroker(t)
	ctx := context.Background()
	if _, err := b.CreateStation(ctx, broker.StationConfig{Name: "s", DedupWindow: time.Minute}); err != nil {
		t.Fatal(err)
	}
	mc := serveAPI(t, b)
	const streams, requests, perRequest = 4, 25, 40
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for s := range streams {
		wg.Go(func() {
			st := mc.ProduceStream(ctx)
			for r := range requests {
				msgs := make([]*v1.Message, perRequest)
				for i := range msgs {
					id := fmt.Sprintf("%d-%d-%d", s, r, i)
					msgs[i] = &v1.Message{Value: []byte("value " + id), Id: id}
					if i%3 == 0 {
						msgs[i].Key = []byte("key " + id)
						msgs[i].Headers = []*v1.Header{{Key: "h", Value: []byte("header " + id)}}
					}
				}
				if err := st.Send(&v1.ProduceStreamRequest{Sequence: uint64(r), Station: "s", Messages: msgs}); err != nil {
					errs <- err
					return
				}
			}
			if err := st.CloseRequest(); err != nil {
				errs <- err
				return
			}
			for r := range requests {
				resp, err := st.Receive()
				if err != nil {
					errs <- err
					return
				}
				if resp.Sequence != uint64(r) || resp.Error != "" || len(resp.Results) != perRequest {
					errs <- fmt.Errorf("stream %d response %d: sequence %d, error %q, %d results", s, r, resp.Sequence, resp.Error, len(resp.Results))
					return
				}
			}
			errs <- st.CloseResponse()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	recs, err := b.Read("s", 0, 0, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != streams*requests*perRequest {
		t.Fatalf("stored %d messages, want %d", len(recs), streams*requests*perRequest)
	}
	seen := make(map[string]bool)
	for _, rec := range recs {
		var id string
		for _, h := range rec.Headers {
			if h.Key == broker.HeaderMessageID {
				id = string(h.Value)
			}
		}
		if seen[id] {
			t.Fatalf("message %q stored twice", id)
		}
		seen[id] = true
		if string(rec.Value) != "value "+id {
			t.Fatalf("message %q stored with value %q", id, rec.Value)
		}
		var s, r, i int
		if _, err := fmt.Sscanf(id, "%d-%d-%d", &s, &r, &i); err != nil {
			t.Fatalf("message id %q: %v", id, err)
		}
		if i%3 != 0 {
			if rec.Key != nil || len(rec.Headers) != 1 {
				t.Fatalf("message %q stored with key %q and headers %v, want none", id, rec.Key, rec.Headers)
			}
			continue
		}
		if string(rec.Key) != "key "+id {
			t.Fatalf("message %q stored with key %q", id, rec.Key)
		}
		if len(rec.Headers) != 2 || rec.Headers[0].Key != "h" || string(rec.Headers[0].Value) != "header "+id {
			t.Fatalf("message %q stored with headers %v", id, rec.Headers)
		}
	}
}

// A stream in JSON bypasses the fast decoder and still lands in the
// request ProduceStream reuses.
func TestProduceStreamJSON(t *testing.T) {
	b := openBroker(t)
	ctx := context.Background()
	if _, err := b.CreateStation(ctx, broker.StationConfig{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	st := serveAPI(t, b, connect.WithProtoJSON()).ProduceStream(ctx)
	for seq := range uint64(2) {
		if err := st.Send(&v1.ProduceStreamRequest{Sequence: seq, Station: "s", Messages: []*v1.Message{{Value: []byte{'a' + byte(seq)}}}}); err != nil {
			t.Fatal(err)
		}
		resp, err := st.Receive()
		if err != nil || resp.Error != "" || resp.Sequence != seq || len(resp.Results) != 1 || resp.Results[0].Offset != seq {
			t.Fatalf("response %d: %v, err %v", seq, resp, err)
		}
	}
	st.CloseRequest()
	st.CloseResponse()
	recs, err := b.Read("s", 0, 0, 1<<20)
	if err != nil || len(recs) != 2 || string(recs[0].Value) != "a" || string(recs[1].Value) != "b" {
		t.Fatalf("stored %v, err %v", recs, err)
	}
}
