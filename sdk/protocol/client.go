package protocol

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/junctionhq/junction/sdk/proto/connectorv1"
)

// ConnectorClient is the host's handle on a plugin's Connector service. It
// is safe for concurrent use.
type ConnectorClient struct {
	c pb.ConnectorClient
}

// NewConnectorClient returns a client of the Connector service on cc.
func NewConnectorClient(cc grpc.ClientConnInterface) *ConnectorClient {
	return &ConnectorClient{c: pb.NewConnectorClient(cc)}
}

// Spec asks the plugin for its spec.
func (c *ConnectorClient) Spec(ctx context.Context) (Spec, error) {
	resp, err := c.c.Spec(ctx, &pb.SpecRequest{})
	if err != nil {
		return Spec{}, fmt.Errorf("connector spec: %w", FromStatus(err))
	}
	return SpecFromPB(resp.GetSpec()), nil
}

// Configure validates cfg for kind and, when it is valid, makes the plugin
// build the instance that the Sink or Source dispensed from the same client
// then drives. It returns every field error at once; none means the config
// is valid. The error is for everything else: the transport, a kind the
// plugin does not serve (ErrFatal), a factory failing.
//
// cfg must hold only what structpb.NewValue accepts (YAML-decoded maps,
// lists, strings, numbers, bools); numbers cross as float64, so integers
// beyond 2^53 lose precision. Configuring again replaces an instance that is
// not open; tear an open one down first.
func (c *ConnectorClient) Configure(ctx context.Context, kind Kind, station, connectorName string, cfg map[string]any) ([]FieldError, error) {
	st, err := structpb.NewStruct(cfg)
	if err != nil {
		return nil, fmt.Errorf("connector configure: encode config: %w", err)
	}
	resp, err := c.c.Configure(ctx, &pb.ConfigureRequest{
		Kind: KindToPB(kind), Config: st, Connector: connectorName, Station: station,
	})
	if err != nil {
		return nil, fmt.Errorf("connector configure: %w", FromStatus(err))
	}
	var fes []FieldError
	for _, e := range resp.GetErrors() {
		fes = append(fes, FieldError{Field: e.GetField(), Message: e.GetMessage()})
	}
	return fes, nil
}

// SinkClient drives a plugin's sink: it implements connector.Sink over the
// wire. Like any Sink, its methods must not be called concurrently.
type SinkClient struct {
	c pb.SinkClient
	// batches: the plugin's Open said it takes record batches.
	batches bool
	// ordered: the plugin's Open said it orders writes by seq; seq is the
	// last one sent since.
	ordered bool
	seq     uint64
	// shm is the host's mapping of the shared memory region the plugin
	// process was given and spans the parts of it writes in flight use;
	// shared: the plugin's Open said it mapped the region.
	shm    []byte
	spans  *ring
	shared bool
}

// NewSinkClient returns a client of the Sink service on cc.
func NewSinkClient(cc grpc.ClientConnInterface) *SinkClient {
	return &SinkClient{c: pb.NewSinkClient(cc)}
}

// Open sends info.Partitions; the plugin fills Connector and Station from
// Configure.
func (k *SinkClient) Open(ctx context.Context, info SinkInfo) (map[uint32]uint64, error) {
	resp, err := k.c.Open(ctx, &pb.SinkOpenRequest{Partitions: info.Partitions, Schema: SchemaToPB(info.Schema)})
	if err != nil {
		return nil, fmt.Errorf("sink open: %w", FromStatus(err))
	}
	k.batches = resp.GetRecordBatches()
	k.ordered, k.seq = resp.GetOrderedWrites(), 0
	k.shared = resp.GetSharedMemory()
	if len(resp.GetDurable()) == 0 {
		return nil, nil
	}
	durable := make(map[uint32]uint64, len(resp.GetDurable()))
	for _, d := range resp.GetDurable() {
		durable[d.GetPartition()] = d.GetNextOffset()
	}
	return durable, nil
}

// Write sends records packed and returns once the plugin reports them
// durable, or a *BatchError naming the records it could not write.
func (k *SinkClient) Write(ctx context.Context, records []Record) error {
	return k.WritePacked(ctx, AppendPacked(make([]byte, 0, PackedSize(records)), records))
}

// WritePacked is Write of records already in the packed encoding (see
// AppendPacked), for a host that packs them from its own record type
// without building Records first. packed is not retained after it returns.
func (k *SinkClient) WritePacked(ctx context.Context, packed []byte) error {
	return k.write(ctx, &pb.SinkWriteRequest{PackedRecords: packed})
}

// TakesRecordBatches reports whether the plugin's sink, as of its last
// Open, takes records as record batches (WriteRecordBatches). A plugin
// built with an SDK older than record batches does not.
func (k *SinkClient) TakesRecordBatches() bool { return k.batches }

// WriteRecordBatches is Write of the records of bs, in order, sent as the
// broker stored them: the plugin decodes them, so the host neither
// decodes nor re-encodes a record. Only for a plugin that takes them (see
// TakesRecordBatches); the indexes of a *BatchError count the records of
// bs in order. bs is not retained after it returns.
func (k *SinkClient) WriteRecordBatches(ctx context.Context, bs []RecordBatches) error {
	if !k.batches {
		return fmt.Errorf("sink write: the plugin does not take record batches: %w", ErrUnimplemented)
	}
	req, release := k.batchesRequest(bs)
	err := k.write(ctx, req, grpc.ForceCodecV2(writeCodec{}))
	release(err)
	return err
}

// OrdersWrites reports whether the plugin's sink, as of its last Open,
// writes record batches in the order StartRecordBatches sent them, so
// that the next may be sent before the last returned.
func (k *SinkClient) OrdersWrites() bool { return k.ordered && k.batches }

// StartRecordBatches sends the records of bs, in order, like
// WriteRecordBatches, but returns at once: the channel receives what
// WriteRecordBatches would have returned, once. The plugin writes them
// after every write started before since the last Open succeeded, and not
// at all once one of those failed. Only for a plugin that orders writes
// (see OrdersWrites); bs is not retained once the outcome arrived.
func (k *SinkClient) StartRecordBatches(ctx context.Context, bs []RecordBatches) <-chan error {
	done := make(chan error, 1)
	if !k.OrdersWrites() {
		done <- fmt.Errorf("sink write: the plugin does not order writes: %w", ErrUnimplemented)
		return done
	}
	k.seq++
	req, release := k.batchesRequest(bs)
	req.Seq = k.seq
	go func() {
		err := k.write(ctx, req, grpc.ForceCodecV2(writeCodec{}))
		release(err)
		done <- err
	}()
	return done
}

// UseSharedMemory makes the client hand record batches to a plugin whose
// Open says it mapped the shared memory region (Linux only) through mem,
// the host's writable mapping of that region, instead of sending their
// bytes: a write copies its batches into a free part of mem and sends
// where they lie. A write that finds no part free, or is larger than
// mem, sends its bytes. Call it before Open; mem must stay mapped until
// the plugin process exited, and the client never reads it.
func (k *SinkClient) UseSharedMemory(mem []byte) {
	k.shm, k.spans = mem, &ring{size: len(mem)}
}

// SharesMemory reports whether writes of record batches go through shared
// memory (see UseSharedMemory), as of the plugin's last Open.
func (k *SinkClient) SharesMemory() bool { return k.shared && k.batches && k.shm != nil }

// batchesRequest returns the write request of bs, through shared memory
// when the plugin takes it and a part of the region is free, and the
// function to call with the write's outcome. A part is reused only after
// an answer from the plugin proves its Write returned: after any other
// error (a call cancelled here may still be running there), it stays in
// use for the client's life, so a later write never changes bytes the
// plugin may still be reading.
func (k *SinkClient) batchesRequest(bs []RecordBatches) (*pb.SinkWriteRequest, func(error)) {
	if k.SharesMemory() {
		n := 0
		for _, b := range bs {
			n += len(b.Data)
		}
		if off, ok := k.spans.alloc(n); ok {
			msgs := make([]pb.SharedRecordBatches, len(bs))
			req := &pb.SinkWriteRequest{Shared: make([]*pb.SharedRecordBatches, len(bs))}
			at := off
			for i, b := range bs {
				copy(k.shm[at:], b.Data)
				msgs[i].Partition, msgs[i].Offset, msgs[i].Length = b.Partition, uint64(at), uint64(len(b.Data))
				req.Shared[i] = &msgs[i]
				at += len(b.Data)
			}
			return req, func(err error) {
				var be *BatchError
				if err == nil || errors.As(err, &be) {
					k.spans.release(off)
				}
			}
		}
	}
	return &pb.SinkWriteRequest{Batches: recordBatchesToPB(bs)}, func(error) {}
}

func (k *SinkClient) write(ctx context.Context, req *pb.SinkWriteRequest, opts ...grpc.CallOption) error {
	resp, err := k.c.Write(ctx, req, opts...)
	if err != nil {
		return fmt.Errorf("sink write: %w", FromStatus(err))
	}
	if len(resp.GetFailed()) == 0 {
		return nil
	}
	be := &BatchError{Failed: make(map[int]error, len(resp.GetFailed()))}
	for _, f := range resp.GetFailed() {
		be.Failed[int(f.GetIndex())] = errors.New(f.GetMessage())
	}
	return be
}

// Teardown tears the plugin's sink down.
func (k *SinkClient) Teardown(ctx context.Context) error {
	if _, err := k.c.Teardown(ctx, &pb.TeardownRequest{}); err != nil {
		return fmt.Errorf("sink teardown: %w", FromStatus(err))
	}
	return nil
}

// SourceClient drives a plugin's source: it implements connector.Source
// over the wire. The plugin streams batches; a goroutine receives them one
// at a time and hands each to a Read, so a batch is never lost when a
// Read's ctx ends first. Like any Source, only Ack may run concurrently
// with Read.
type SourceClient struct {
	c pb.SourceClient
	// base is the parent of the stream's context: go-plugin cancels it when
	// the plugin process exits.
	base context.Context

	mu      sync.Mutex
	results chan readResult
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewSourceClient returns a client of the Source service on cc. The Read
// stream runs under base (go-plugin's context, cancelled when the plugin
// process exits), not under the ctx of a Read.
func NewSourceClient(base context.Context, cc grpc.ClientConnInterface) *SourceClient {
	return &SourceClient{c: pb.NewSourceClient(cc), base: base}
}

type readResult struct {
	batch Batch
	err   error
}

// Open opens the plugin's source after pos.
func (s *SourceClient) Open(ctx context.Context, pos Position) error {
	if _, err := s.c.Open(ctx, &pb.SourceOpenRequest{Position: pos}); err != nil {
		return fmt.Errorf("source open: %w", FromStatus(err))
	}
	return nil
}

// Read returns the next batch from the plugin's stream, starting the stream
// on first use and after an error. Its ctx bounds the wait here; the
// plugin's Read runs under the stream's context, which ends at Teardown.
func (s *SourceClient) Read(ctx context.Context) (Batch, error) {
	results, err := s.stream()
	if err != nil {
		return Batch{}, err
	}
	select {
	case r := <-results:
		if r.err != nil {
			s.stop()
			return Batch{}, r.err
		}
		return r.batch, nil
	case <-ctx.Done():
		return Batch{}, ctx.Err()
	}
}

func (s *SourceClient) stream() (chan readResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.results != nil {
		return s.results, nil
	}
	ctx, cancel := context.WithCancel(s.base)
	stream, err := s.c.Read(ctx, &pb.SourceReadRequest{})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("source read: %w", FromStatus(err))
	}
	results, done := make(chan readResult), make(chan struct{})
	s.results, s.cancel, s.done = results, cancel, done
	go func() {
		defer close(done)
		for {
			msg, err := stream.Recv()
			var r readResult
			switch {
			case errors.Is(err, io.EOF):
				r.err = fmt.Errorf("source read: plugin ended the stream: %w", ErrRetryable)
			case err != nil:
				r.err = fmt.Errorf("source read: %w", FromStatus(err))
			default:
				r.batch = BatchFromPB(msg)
			}
			select {
			case results <- r:
			case <-ctx.Done():
				return
			}
			if r.err != nil {
				return
			}
		}
	}()
	return results, nil
}

// stop ends the stream and waits for its goroutine.
func (s *SourceClient) stop() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.results, s.cancel, s.done = nil, nil, nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Ack tells the plugin which batches are durably in the station.
func (s *SourceClient) Ack(ctx context.Context, positions []Position) error {
	req := &pb.SourceAckRequest{Positions: make([][]byte, len(positions))}
	for i, p := range positions {
		req.Positions[i] = p
	}
	if _, err := s.c.Ack(ctx, req); err != nil {
		return fmt.Errorf("source ack: %w", FromStatus(err))
	}
	return nil
}

// Teardown stops the stream, then tears the plugin's source down.
func (s *SourceClient) Teardown(ctx context.Context) error {
	s.stop()
	if _, err := s.c.Teardown(ctx, &pb.TeardownRequest{}); err != nil {
		return fmt.Errorf("source teardown: %w", FromStatus(err))
	}
	return nil
}
