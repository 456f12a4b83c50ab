package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
	"github.com/junctionhq/junction/sdk/client"
)

// fakeBroker is a protocol-level fake of the broker's message service: it
// stores produced values in one partition and records what it was sent.
type fakeBroker struct {
	junctionv1connect.UnimplementedMessageServiceHandler
	junctionv1connect.UnimplementedStationServiceHandler

	// onRequest, if set, may answer a stream request instead of the fake:
	// it returns the response to send, or an error to end the stream with.
	onRequest func(stream int, req *junctionv1.ProduceStreamRequest) (*junctionv1.ProduceStreamResponse, error)
	// gate, if set, is received from before each stream response.
	gate chan struct{}

	mu       sync.Mutex
	values   []string
	reqSizes []int
	seqs     []uint64
	streams  int
	received int // stream requests received
	acks     []*junctionv1.AckRequest
	nacks    []*junctionv1.NackRequest
	pull     func(*junctionv1.PullRequest) (*junctionv1.PullResponse, error)
	produce  func(*junctionv1.ProduceRequest) (*junctionv1.ProduceResponse, error)
}

func (f *fakeBroker) ListStations(context.Context, *connect.Request[junctionv1.ListStationsRequest]) (*connect.Response[junctionv1.ListStationsResponse], error) {
	return connect.NewResponse(&junctionv1.ListStationsResponse{}), nil
}

func (f *fakeBroker) store(msgs []*junctionv1.Message) []*junctionv1.ProduceResult {
	rs := make([]*junctionv1.ProduceResult, len(msgs))
	for i, m := range msgs {
		rs[i] = &junctionv1.ProduceResult{Offset: uint64(len(f.values))}
		f.values = append(f.values, string(m.GetValue()))
	}
	return rs
}

func (f *fakeBroker) Produce(_ context.Context, req *connect.Request[junctionv1.ProduceRequest]) (*connect.Response[junctionv1.ProduceResponse], error) {
	if f.produce != nil {
		resp, err := f.produce(req.Msg)
		if err != nil {
			return nil, err
		}
		return connect.NewResponse(resp), nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return connect.NewResponse(&junctionv1.ProduceResponse{Results: f.store(req.Msg.GetMessages())}), nil
}

func (f *fakeBroker) ProduceStream(ctx context.Context, st *connect.BidiStream[junctionv1.ProduceStreamRequest, junctionv1.ProduceStreamResponse]) error {
	f.mu.Lock()
	f.streams++
	stream := f.streams
	f.mu.Unlock()
	for {
		req, err := st.Receive()
		if err != nil {
			return nil // client closed its side
		}
		f.mu.Lock()
		f.received++
		f.mu.Unlock()
		if f.gate != nil {
			select {
			case <-f.gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		var resp *junctionv1.ProduceStreamResponse
		if f.onRequest != nil {
			if resp, err = f.onRequest(stream, req); err != nil {
				return err
			}
		}
		if resp == nil {
			f.mu.Lock()
			f.reqSizes = append(f.reqSizes, len(req.GetMessages()))
			f.seqs = append(f.seqs, req.GetSequence())
			resp = &junctionv1.ProduceStreamResponse{Sequence: req.GetSequence(), Results: f.store(req.GetMessages())}
			f.mu.Unlock()
		}
		if err := st.Send(resp); err != nil {
			return err
		}
	}
}

func (f *fakeBroker) Pull(_ context.Context, req *connect.Request[junctionv1.PullRequest]) (*connect.Response[junctionv1.PullResponse], error) {
	resp, err := f.pull(req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(resp), nil
}

func (f *fakeBroker) Ack(_ context.Context, req *connect.Request[junctionv1.AckRequest]) (*connect.Response[junctionv1.AckResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acks = append(f.acks, req.Msg)
	return connect.NewResponse(&junctionv1.AckResponse{}), nil
}

func (f *fakeBroker) Nack(_ context.Context, req *connect.Request[junctionv1.NackRequest]) (*connect.Response[junctionv1.NackResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nacks = append(f.nacks, req.Msg)
	return connect.NewResponse(&junctionv1.NackResponse{}), nil
}

// serveFake serves f over h2c on a loopback port and returns a connected
// client.
func serveFake(t testing.TB, f *fakeBroker) *client.Client {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(junctionv1connect.NewMessageServiceHandler(f))
	mux.Handle(junctionv1connect.NewStationServiceHandler(f))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := client.Connect(context.Background(), srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// brokerError builds a broker-style error with an ErrorInfo detail.
func brokerError(code connect.Code, reason junctionv1.ErrorReason, msg string) error {
	err := connect.NewError(code, errors.New(msg))
	d, derr := connect.NewErrorDetail(&junctionv1.ErrorInfo{Reason: reason, Station: "orders", Field: "messages"})
	if derr != nil {
		panic(derr)
	}
	err.AddDetail(d)
	return err
}
