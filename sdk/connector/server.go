package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/junctionhq/junction/sdk/proto/connectorv1"
	"github.com/junctionhq/junction/sdk/protocol"
)

type loggerKey struct{}

// Logger returns the logger for a call: the ctx of every method the SDK
// calls carries one with the connector and station names, writing to the
// host's log. Without one it returns slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// server is the plugin side: it holds the instance Configure built, which
// the Source and Sink services then drive.
type server struct {
	def Definition
	log *slog.Logger
	// shm is the plugin's read-only mapping of the shared memory region
	// the host passed for record batches; nil when there is none.
	shm []byte

	mu        sync.Mutex
	connector string
	station   string
	sink      Sink
	source    Source
	// readCancel stops the running Read stream; readDone is closed when it
	// has returned.
	readCancel context.CancelFunc
	readDone   chan struct{}
	// order is the sink's ordered writes since its last Open.
	order writeOrder
}

func newServer(def Definition, log *slog.Logger) *server {
	if log == nil {
		log = slog.Default()
	}
	return &server{def: def, log: log}
}

func (s *server) ctx(ctx context.Context) context.Context {
	s.mu.Lock()
	l := s.log
	if s.connector != "" {
		l = l.With("connector", s.connector, "station", s.station)
	}
	s.mu.Unlock()
	return context.WithValue(ctx, loggerKey{}, l)
}

type connectorServer struct {
	pb.UnimplementedConnectorServer
	s *server
}

func (c connectorServer) Spec(context.Context, *pb.SpecRequest) (*pb.SpecResponse, error) {
	return &pb.SpecResponse{Spec: protocol.SpecToPB(c.s.def.Spec())}, nil
}

func (c connectorServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	s := c.s
	raw := req.GetConfig().AsMap()
	var (
		inst any
		err  error
	)
	switch kind := protocol.KindFromPB(req.GetKind()); {
	case kind == KindSink && s.def.Sink != nil:
		var cfg any
		if cfg, err = s.def.Sink.cfg.decode(raw); err == nil {
			inst, err = s.def.Sink.build(cfg)
		}
	case kind == KindSource && s.def.Source != nil:
		var cfg any
		if cfg, err = s.def.Source.cfg.decode(raw); err == nil {
			inst, err = s.def.Source.build(cfg)
		}
	default:
		return nil, protocol.ToStatus(Fatal(fmt.Errorf("connector %s does not serve kind %v", s.def.Name, req.GetKind())))
	}
	if err != nil {
		var fes FieldErrors
		var fe FieldError
		if errors.As(err, &fes) || errors.As(err, &fe) {
			resp := &pb.ConfigureResponse{}
			for _, e := range asFieldErrors(err) {
				resp.Errors = append(resp.Errors, &pb.FieldError{Field: e.Field, Message: e.Message})
			}
			return resp, nil
		}
		return nil, protocol.ToStatus(fmt.Errorf("configure %s: %w", s.def.Name, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connector, s.station = req.GetConnector(), req.GetStation()
	switch v := inst.(type) {
	case Sink:
		s.sink = v
	case Source:
		s.source = v
	}
	return &pb.ConfigureResponse{}, nil
}

var errNotConfigured = status.Error(codes.FailedPrecondition, "connector is not configured: call Configure first")

// recordsPool holds the record slices Writes of record batches decode
// into: a sink keeps no record after Write returns, so the slice of one
// Write serves the next and a batch costs no allocation per record.
var recordsPool = sync.Pool{New: func() any { return new([]Record) }}

type sinkServer struct {
	pb.UnimplementedSinkServer
	s *server
}

func (k sinkServer) get() (Sink, SinkInfo, error) {
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	if k.s.sink == nil {
		return nil, SinkInfo{}, errNotConfigured
	}
	return k.s.sink, SinkInfo{Connector: k.s.connector, Station: k.s.station}, nil
}

func (k sinkServer) Open(ctx context.Context, req *pb.SinkOpenRequest) (*pb.SinkOpenResponse, error) {
	sink, info, err := k.get()
	if err != nil {
		return nil, err
	}
	info.Partitions = req.GetPartitions()
	info.Schema = protocol.SchemaFromPB(req.GetSchema())
	durable, err := sink.Open(k.s.ctx(ctx), info)
	if err != nil {
		return nil, protocol.ToStatus(err)
	}
	k.s.resetOrder()
	resp := &pb.SinkOpenResponse{RecordBatches: true, OrderedWrites: true, SharedMemory: k.s.shm != nil}
	for p, off := range durable {
		resp.Durable = append(resp.Durable, &pb.PartitionOffset{Partition: p, NextOffset: off})
	}
	return resp, nil
}

func (k sinkServer) Write(ctx context.Context, req *pb.SinkWriteRequest) (*pb.SinkWriteResponse, error) {
	sink, _, err := k.get()
	if err != nil {
		return nil, err
	}
	if seq := req.GetSeq(); seq > 0 {
		turn, err := k.s.awaitTurn(ctx, seq)
		if err != nil {
			return nil, protocol.ToStatus(err)
		}
		resp, err := k.write(ctx, sink, req)
		k.s.endTurn(seq, turn, err)
		return resp, err
	}
	return k.write(ctx, sink, req)
}

// write decodes the records of req and writes them to sink.
func (k sinkServer) write(ctx context.Context, sink Sink, req *pb.SinkWriteRequest) (_ *pb.SinkWriteResponse, err error) {
	records := protocol.RecordsFromPB(req.GetRecords())
	if packed := req.GetPackedRecords(); len(packed) > 0 {
		if records, err = protocol.DecodePacked(packed); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	bs := protocol.RecordBatchesFromPB(req.GetBatches())
	if shared := req.GetShared(); len(shared) > 0 {
		if bs, err = protocol.SharedBatches(k.s.shm, shared); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	if len(bs) > 0 {
		buf := recordsPool.Get().(*[]Record)
		defer func() {
			clear(*buf) // drop the bytes the records alias
			*buf = (*buf)[:0]
			recordsPool.Put(buf)
		}()
		for _, b := range bs {
			if *buf, err = protocol.AppendBatchRecords(*buf, b.Partition, b.Data); err != nil {
				return nil, status.Error(codes.InvalidArgument, err.Error())
			}
		}
		records = *buf
	}
	err = sink.Write(k.s.ctx(ctx), records)
	var be *BatchError
	if errors.As(err, &be) {
		resp := &pb.SinkWriteResponse{}
		for i, e := range be.Failed {
			resp.Failed = append(resp.Failed, &pb.RecordError{Index: uint32(i), Message: e.Error()})
		}
		return resp, nil
	}
	if err != nil {
		return nil, protocol.ToStatus(err)
	}
	return &pb.SinkWriteResponse{}, nil
}

func (k sinkServer) Teardown(ctx context.Context, _ *pb.TeardownRequest) (*pb.TeardownResponse, error) {
	k.s.mu.Lock()
	sink := k.s.sink
	k.s.sink = nil
	k.s.mu.Unlock()
	if sink == nil {
		return &pb.TeardownResponse{}, nil
	}
	if err := sink.Teardown(k.s.ctx(ctx)); err != nil {
		return nil, protocol.ToStatus(err)
	}
	return &pb.TeardownResponse{}, nil
}

type sourceServer struct {
	pb.UnimplementedSourceServer
	s *server
}

func (r sourceServer) get() (Source, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.s.source == nil {
		return nil, errNotConfigured
	}
	return r.s.source, nil
}

func (r sourceServer) Open(ctx context.Context, req *pb.SourceOpenRequest) (*pb.SourceOpenResponse, error) {
	src, err := r.get()
	if err != nil {
		return nil, err
	}
	var pos Position
	if len(req.GetPosition()) > 0 {
		pos = req.GetPosition()
	}
	if err := src.Open(r.s.ctx(ctx), pos); err != nil {
		return nil, protocol.ToStatus(err)
	}
	return &pb.SourceOpenResponse{}, nil
}

// Read calls the source's Read in a loop and streams the batches until the
// host cancels the stream, Teardown stops it, or Read fails.
func (r sourceServer) Read(_ *pb.SourceReadRequest, stream pb.Source_ReadServer) error {
	src, err := r.get()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	r.s.mu.Lock()
	if r.s.readCancel != nil {
		r.s.mu.Unlock()
		return status.Error(codes.FailedPrecondition, "a Read stream is already running")
	}
	r.s.readCancel, r.s.readDone = cancel, done
	r.s.mu.Unlock()
	defer func() {
		r.s.mu.Lock()
		r.s.readCancel, r.s.readDone = nil, nil
		r.s.mu.Unlock()
	}()
	ctx = r.s.ctx(ctx)
	for {
		b, err := src.Read(ctx)
		if err != nil {
			return protocol.ToStatus(err)
		}
		if len(b.Records) == 0 && len(b.Rejected) == 0 && len(b.Position) == 0 {
			continue
		}
		if err := stream.Send(protocol.BatchToPB(b)); err != nil {
			return err
		}
	}
}

func (r sourceServer) Ack(ctx context.Context, req *pb.SourceAckRequest) (*pb.SourceAckResponse, error) {
	src, err := r.get()
	if err != nil {
		return nil, err
	}
	pos := make([]Position, len(req.GetPositions()))
	for i, p := range req.GetPositions() {
		pos[i] = p
	}
	if err := src.Ack(r.s.ctx(ctx), pos); err != nil {
		return nil, protocol.ToStatus(err)
	}
	return &pb.SourceAckResponse{}, nil
}

// Teardown stops a running Read stream and waits for it before tearing the
// source down, so the source never sees Read and Teardown at once.
func (r sourceServer) Teardown(ctx context.Context, _ *pb.TeardownRequest) (*pb.TeardownResponse, error) {
	r.s.mu.Lock()
	src, cancel, done := r.s.source, r.s.readCancel, r.s.readDone
	r.s.source = nil
	r.s.mu.Unlock()
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, protocol.ToStatus(ctx.Err())
		}
	}
	if src == nil {
		return &pb.TeardownResponse{}, nil
	}
	if err := src.Teardown(r.s.ctx(ctx)); err != nil {
		return nil, protocol.ToStatus(err)
	}
	return &pb.TeardownResponse{}, nil
}
