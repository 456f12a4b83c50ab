// Package api serves the broker's part of the public API (the station,
// message and group services of api/junction/v1) over connect-go, and maps
// broker errors to connect errors with stable ErrorInfo reasons. The server
// package mounts these handlers next to the connector host's.
package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/junctionhq/junction/broker"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

type api struct {
	b      *broker.Broker
	limits Limits
	rates  *rates
}

// Limits bound what the handlers hold in memory for requests.
type Limits struct {
	// InFlight, when set, is charged with the size of every ProduceStream
	// request from its arrival to its answer; the stream waits for room,
	// which bounds what all streams together have queued.
	InFlight Budget
}

// Budget is a shared allowance of bytes.
type Budget interface {
	// Acquire waits until n bytes are free and takes them, or fails when
	// ctx is done.
	Acquire(ctx context.Context, n int64) error
	// Release gives n bytes back.
	Release(n int64)
}

type stationService struct{ *api }
type messageService struct{ *api }
type groupService struct{ *api }

// Handlers returns the broker's services as (path, handler) pairs to mount
// on a mux, and the service names for gRPC reflection. Message payloads are
// the user's (often already compressed) bytes and the hot path: gzip there
// cost a third of the broker's CPU for little gain, so MessageService does
// not compress whatever opts say.
func Handlers(b *broker.Broker, limits Limits, opts ...connect.HandlerOption) (map[string]http.Handler, []string) {
	a := &api{b: b, limits: limits, rates: newRates(time.Now)}
	messageOpts := append(slices.Clip(opts), connect.WithCompression("gzip", nil, nil), connect.WithCodec(produceCodec))
	out := make(map[string]http.Handler, 5)
	path, h := junctionv1connect.NewStationServiceHandler(&stationService{a}, opts...)
	out[path] = h
	path, h = junctionv1connect.NewMessageServiceHandler(&messageService{a}, messageOpts...)
	out[path] = withFlushGate(h)
	path, h = junctionv1connect.NewGroupServiceHandler(&groupService{a}, opts...)
	out[path] = h
	path, h = junctionv1connect.NewSchemaServiceHandler(&schemaService{a}, opts...)
	out[path] = h
	path, h = junctionv1connect.NewDeadLetterServiceHandler(&deadLetterService{a}, opts...)
	out[path] = h
	return out, []string{
		junctionv1connect.StationServiceName,
		junctionv1connect.MessageServiceName,
		junctionv1connect.GroupServiceName,
		junctionv1connect.SchemaServiceName,
		junctionv1connect.DeadLetterServiceName,
	}
}

// Error turns a broker error into a connect error with an ErrorInfo detail
// carrying its stable reason, naming station and group when set.
func Error(err error, station, group string) error {
	if err == nil {
		return nil
	}
	code, reason := classify(err)
	info := &v1.ErrorInfo{Reason: reason, Station: echoName(station), Group: echoName(group)}
	var fe *broker.FieldError
	if errors.As(err, &fe) {
		info.Field = fe.Field
	}
	addSchemaDetails(info, err)
	var nl *broker.NotLeaderError
	if errors.As(err, &nl) {
		info.Leader = nl.Leader
	}
	cerr := connect.NewError(code, err)
	if d, derr := connect.NewErrorDetail(info); derr == nil {
		cerr.AddDetail(d)
	}
	return cerr
}

// echoName is name as an error may repeat it to its sender: only when it
// is a valid name, so a hostile request never gets megabytes back.
func echoName(name string) string {
	if !broker.ValidName(name) {
		return ""
	}
	return name
}

func classify(err error) (connect.Code, v1.ErrorReason) {
	if code, reason, ok := classifySchema(err); ok {
		return code, reason
	}
	switch {
	case errors.Is(err, broker.ErrStationNotFound):
		return connect.CodeNotFound, v1.ErrorReason_ERROR_REASON_STATION_NOT_FOUND
	case errors.Is(err, broker.ErrStationExists):
		return connect.CodeAlreadyExists, v1.ErrorReason_ERROR_REASON_STATION_EXISTS
	case errors.Is(err, broker.ErrStationInUse):
		return connect.CodeFailedPrecondition, v1.ErrorReason_ERROR_REASON_STATION_IN_USE
	case errors.Is(err, broker.ErrGroupNotFound):
		return connect.CodeNotFound, v1.ErrorReason_ERROR_REASON_GROUP_NOT_FOUND
	case errors.Is(err, broker.ErrGroupExists):
		return connect.CodeAlreadyExists, v1.ErrorReason_ERROR_REASON_GROUP_EXISTS
	case errors.Is(err, broker.ErrInvalidArgument):
		return connect.CodeInvalidArgument, v1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT
	case errors.Is(err, broker.ErrMessageTooLarge):
		return connect.CodeResourceExhausted, v1.ErrorReason_ERROR_REASON_MESSAGE_TOO_LARGE
	case errors.Is(err, broker.ErrNotPending):
		return connect.CodeFailedPrecondition, v1.ErrorReason_ERROR_REASON_NOT_PENDING
	case errors.Is(err, broker.ErrOutcomeUnknown):
		return connect.CodeUnavailable, v1.ErrorReason_ERROR_REASON_OUTCOME_UNKNOWN
	case errors.Is(err, broker.ErrNotLeader):
		return connect.CodeUnavailable, v1.ErrorReason_ERROR_REASON_NOT_LEADER
	case errors.Is(err, broker.ErrClosed):
		return connect.CodeUnavailable, v1.ErrorReason_ERROR_REASON_SHUTTING_DOWN
	case errors.Is(err, broker.ErrCorrupt):
		return connect.CodeDataLoss, v1.ErrorReason_ERROR_REASON_STORAGE
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled, v1.ErrorReason_ERROR_REASON_UNSPECIFIED
	case errors.Is(err, context.DeadlineExceeded):
		return connect.CodeDeadlineExceeded, v1.ErrorReason_ERROR_REASON_UNSPECIFIED
	}
	return connect.CodeInternal, v1.ErrorReason_ERROR_REASON_STORAGE
}

func invalid(field, format string, args ...any) error {
	return &broker.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Stations.

func (s *stationService) CreateStation(ctx context.Context, req *connect.Request[v1.CreateStationRequest]) (*connect.Response[v1.CreateStationResponse], error) {
	ps := req.Msg.GetStation()
	if ps == nil {
		return nil, Error(invalid("station", "required"), "", "")
	}
	cfg, err := stationFromProto(ps)
	if err != nil {
		return nil, Error(err, ps.GetName(), "")
	}
	cfg, err = s.b.CreateStation(ctx, cfg)
	if err != nil {
		return nil, Error(err, ps.GetName(), "")
	}
	return connect.NewResponse(&v1.CreateStationResponse{Station: s.station(cfg)}), nil
}

func (s *stationService) GetStation(ctx context.Context, req *connect.Request[v1.GetStationRequest]) (*connect.Response[v1.GetStationResponse], error) {
	cfg, stats, err := s.b.Station(req.Msg.GetName())
	if err != nil {
		return nil, Error(err, req.Msg.GetName(), "")
	}
	return connect.NewResponse(&v1.GetStationResponse{Station: s.station(cfg), Stats: statsToProto(stats)}), nil
}

func (s *stationService) ListStations(ctx context.Context, req *connect.Request[v1.ListStationsRequest]) (*connect.Response[v1.ListStationsResponse], error) {
	cfgs, stats := s.b.Stations()
	resp := &v1.ListStationsResponse{}
	for i := range cfgs {
		resp.Stations = append(resp.Stations, s.station(cfgs[i]))
		resp.Stats = append(resp.Stats, statsToProto(stats[i]))
	}
	return connect.NewResponse(resp), nil
}

func (s *stationService) UpdateStation(ctx context.Context, req *connect.Request[v1.UpdateStationRequest]) (*connect.Response[v1.UpdateStationResponse], error) {
	ps := req.Msg.GetStation()
	if ps == nil {
		return nil, Error(invalid("station", "required"), "", "")
	}
	var u broker.StationUpdate
	paths := req.Msg.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, Error(invalid("update_mask", "name at least one field to update"), ps.Name, "")
	}
	for _, p := range paths {
		switch p {
		case "retention":
			r := retentionFromProto(ps.GetRetention())
			u.Retention = &r
		case "dedup_window":
			d := ps.GetDedupWindow().AsDuration()
			u.DedupWindow = &d
		case "dead_letter_station":
			u.DeadLetterStation = &ps.DeadLetterStation
		case "max_deliveries":
			u.MaxDeliveries = &ps.MaxDeliveries
		case "max_message_bytes":
			u.MaxMessageBytes = &ps.MaxMessageBytes
		case "partitions":
			u.Partitions = &ps.Partitions
		case "replicas":
			u.Replicas = &ps.Replicas
		case "storage", "fsync", "name", "created_at":
			return nil, Error(invalid("update_mask", "%s cannot change after a station is created", p), ps.Name, "")
		default:
			return nil, Error(invalid("update_mask", "unknown field %q", p), ps.Name, "")
		}
	}
	cfg, err := s.b.UpdateStation(ctx, ps.Name, u)
	if err != nil {
		return nil, Error(err, ps.Name, "")
	}
	return connect.NewResponse(&v1.UpdateStationResponse{Station: s.station(cfg)}), nil
}

func (s *stationService) DeleteStation(ctx context.Context, req *connect.Request[v1.DeleteStationRequest]) (*connect.Response[v1.DeleteStationResponse], error) {
	if err := s.b.DeleteStation(ctx, req.Msg.GetName(), req.Msg.GetForce()); err != nil {
		return nil, Error(err, req.Msg.GetName(), "")
	}
	return connect.NewResponse(&v1.DeleteStationResponse{}), nil
}

func stationFromProto(p *v1.Station) (broker.StationConfig, error) {
	c := broker.StationConfig{
		Name:              p.GetName(),
		Partitions:        p.GetPartitions(),
		Retention:         retentionFromProto(p.GetRetention()),
		DedupWindow:       p.GetDedupWindow().AsDuration(),
		DeadLetterStation: p.GetDeadLetterStation(),
		MaxDeliveries:     p.GetMaxDeliveries(),
		MaxMessageBytes:   p.GetMaxMessageBytes(),
		Replicas:          p.GetReplicas(),
	}
	switch p.GetStorage() {
	case v1.StorageType_STORAGE_TYPE_UNSPECIFIED:
	case v1.StorageType_STORAGE_TYPE_DISK:
		c.Storage = broker.StorageDisk
	case v1.StorageType_STORAGE_TYPE_MEMORY:
		c.Storage = broker.StorageMemory
	default:
		return c, invalid("station.storage", "unknown storage type %d", p.GetStorage())
	}
	switch p.GetFsync() {
	case v1.FsyncPolicy_FSYNC_POLICY_UNSPECIFIED:
	case v1.FsyncPolicy_FSYNC_POLICY_ALWAYS:
		c.Fsync = broker.FsyncAlways
	case v1.FsyncPolicy_FSYNC_POLICY_INTERVAL:
		c.Fsync = broker.FsyncInterval
	case v1.FsyncPolicy_FSYNC_POLICY_NEVER:
		c.Fsync = broker.FsyncNever
	default:
		return c, invalid("station.fsync", "unknown fsync policy %d", p.GetFsync())
	}
	return c, nil
}

func retentionFromProto(r *v1.Retention) broker.Retention {
	return broker.Retention{MaxAge: r.GetMaxAge().AsDuration(), MaxBytes: r.GetMaxBytes(), MaxMessages: r.GetMaxMessages(), Ack: r.GetAck()}
}

// station is c as a response carries it, with its effective replica count.
func (a *api) station(c broker.StationConfig) *v1.Station {
	p := stationToProto(c)
	p.Replicas = a.b.Replicas(c)
	return p
}

func stationToProto(c broker.StationConfig) *v1.Station {
	p := &v1.Station{
		Name:              c.Name,
		Partitions:        c.Partitions,
		DeadLetterStation: c.DeadLetterStation,
		MaxDeliveries:     c.MaxDeliveries,
		MaxMessageBytes:   c.MaxMessageBytes,
		Replicas:          c.Replicas,
		CreatedAt:         timestamppb.New(c.CreatedAt),
		Schema:            stationSchemaToProto(c.Schema),
		Retention: &v1.Retention{
			MaxBytes:    c.Retention.MaxBytes,
			MaxMessages: c.Retention.MaxMessages,
			Ack:         c.Retention.Ack,
		},
	}
	if c.Retention.MaxAge > 0 {
		p.Retention.MaxAge = durationpb.New(c.Retention.MaxAge)
	}
	if c.DedupWindow > 0 {
		p.DedupWindow = durationpb.New(c.DedupWindow)
	}
	switch c.Storage {
	case broker.StorageDisk:
		p.Storage = v1.StorageType_STORAGE_TYPE_DISK
	case broker.StorageMemory:
		p.Storage = v1.StorageType_STORAGE_TYPE_MEMORY
	}
	switch c.Fsync {
	case broker.FsyncAlways:
		p.Fsync = v1.FsyncPolicy_FSYNC_POLICY_ALWAYS
	case broker.FsyncInterval:
		p.Fsync = v1.FsyncPolicy_FSYNC_POLICY_INTERVAL
	case broker.FsyncNever:
		p.Fsync = v1.FsyncPolicy_FSYNC_POLICY_NEVER
	}
	return p
}

func statsToProto(s broker.StationStats) *v1.StationStats {
	p := &v1.StationStats{Messages: s.Messages, Bytes: s.Bytes, Groups: uint32(s.Groups), DeadLetterError: s.DeadLetterError}
	for i, ps := range s.Partitions {
		pp := &v1.PartitionStats{
			Partition: uint32(i), StartOffset: ps.StartOffset, NextOffset: ps.NextOffset, Bytes: ps.Bytes, Segments: uint32(ps.Segments),
		}
		integrityToProto(pp, ps)
		p.Partitions = append(p.Partitions, pp)
	}
	return p
}

// Messages.

func (s *messageService) Produce(ctx context.Context, req *connect.Request[v1.ProduceRequest]) (*connect.Response[v1.ProduceResponse], error) {
	p, err := s.produceAsync(ctx, req.Msg.GetStation(), req.Msg.GetMessages())
	if err != nil {
		return nil, Error(err, req.Msg.GetStation(), "")
	}
	results, err := p.Wait()
	if err != nil {
		return nil, Error(err, req.Msg.GetStation(), "")
	}
	return connect.NewResponse(&v1.ProduceResponse{Results: resultsToProto(results)}), nil
}

func (s *messageService) produceAsync(ctx context.Context, station string, pms []*v1.Message) (*broker.PendingProduce, error) {
	if len(pms) == 0 {
		return nil, invalid("messages", "at least one message is required")
	}
	msgs := getMessages(len(pms))
	defer putMessages(msgs)
	for i, m := range pms {
		msgs[i] = broker.Message{Key: m.Key, Value: m.Value, ID: m.Id}
		if len(m.Headers) > 0 {
			hs := make([]broker.Header, len(m.Headers))
			for j, h := range m.Headers {
				if strings.HasPrefix(h.Key, broker.ReservedHeaderPrefix) {
					return nil, invalid(fmt.Sprintf("messages[%d].headers[%d].key", i, j), "header keys starting with %q are set by the broker, not by producers", broker.ReservedHeaderPrefix)
				}
				hs[j] = broker.Header{Key: h.Key, Value: h.Value}
			}
			msgs[i].Headers = hs
		}
	}
	return s.b.ProduceAsync(ctx, station, msgs)
}

// messagePool recycles the broker.Message slices produce requests are
// converted into: ProduceAsync does not retain them.
var messagePool sync.Pool

// maxPooledMessages bounds the slices messagePool keeps.
const maxPooledMessages = 4096

func getMessages(n int) []broker.Message {
	if p, ok := messagePool.Get().(*[]broker.Message); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]broker.Message, n)
}

func putMessages(msgs []broker.Message) {
	if cap(msgs) > maxPooledMessages {
		return
	}
	clear(msgs) // they point into the request
	messagePool.Put(&msgs)
}

func resultsToProto(results []broker.ProduceResult) []*v1.ProduceResult {
	out := make([]*v1.ProduceResult, len(results))
	backing := make([]v1.ProduceResult, len(results))
	for i, r := range results {
		backing[i].Partition, backing[i].Offset, backing[i].Duplicate = r.Partition, r.Offset, r.Duplicate
		backing[i].Rejected, backing[i].DeadLettered = r.Rejected, r.DeadLettered
		out[i] = &backing[i]
	}
	return out
}

// maxReusedResults bounds what a resultBuf keeps between conversions.
const maxReusedResults = 4096

// resultBuf converts results to protobuf into buffers it reuses, for a
// caller that is done with one conversion before it asks for the next.
type resultBuf struct {
	backing []v1.ProduceResult
	ptrs    []*v1.ProduceResult
}

func (rb *resultBuf) toProto(results []broker.ProduceResult) []*v1.ProduceResult {
	if len(results) == 0 {
		return nil
	}
	if len(results) > maxReusedResults {
		return resultsToProto(results)
	}
	if cap(rb.backing) < len(results) {
		rb.backing = make([]v1.ProduceResult, len(results))
		rb.ptrs = make([]*v1.ProduceResult, len(results))
	}
	backing, out := rb.backing[:len(results)], rb.ptrs[:len(results)]
	for i, r := range results {
		b := &backing[i]
		b.Partition, b.Offset, b.Duplicate = r.Partition, r.Offset, r.Duplicate
		b.Rejected, b.DeadLettered = r.Rejected, r.DeadLettered
		out[i] = b
	}
	return out
}

// produceInFlight bounds the requests of one ProduceStream that are queued
// but not yet answered.
const produceInFlight = 64

// ProduceStream pipelines: the receiving loop queues each request on the
// log in arrival order without waiting for it to be durable, while a second
// goroutine waits for each in turn and answers in the same order. Requests
// of one stream (and of concurrent streams) share group commits, and the
// answers a group commit completes together leave in one flush (see
// flushGate).
func (s *messageService) ProduceStream(ctx context.Context, stream *connect.BidiStream[v1.ProduceStreamRequest, v1.ProduceStreamResponse]) error {
	type inflight struct {
		seq     uint64
		station string
		p       *broker.PendingProduce
		err     error
		charged int64 // bytes taken from the in-flight budget
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan inflight, produceInFlight)
	sendErr := make(chan error, 1)
	gate := flushGateFrom(ctx)
	go func() {
		var failed error
		var rb resultBuf // Send marshals resp before it returns
		var next inflight
		haveNext, more := false, true
		for more || haveNext {
			f := next
			if haveNext {
				haveNext = false
			} else if f, more = <-queue; !more {
				break
			}
			resp := &v1.ProduceStreamResponse{Sequence: f.seq}
			err := f.err
			if f.p != nil {
				var results []broker.ProduceResult
				results, err = f.p.Wait()
				resp.Results = rb.toProto(results)
			}
			if f.charged > 0 {
				s.limits.InFlight.Release(f.charged)
			}
			if err != nil {
				code, reason := classify(err)
				resp.Error, resp.ErrorCode = err.Error(), code.String()
				resp.ErrorInfo = &v1.ErrorInfo{Reason: reason, Station: f.station}
				var fe *broker.FieldError
				if errors.As(err, &fe) {
					resp.ErrorInfo.Field = fe.Field
				}
				addSchemaDetails(resp.ErrorInfo, err)
			}
			if failed == nil {
				// Hold the flush while the next response is ready too.
				hold := false
				if more {
					select {
					case next, more = <-queue:
						haveNext = more
						hold = more && (next.p == nil || next.p.Ready())
					default:
					}
				}
				gate.setHold(hold)
				if failed = stream.Conn().Send(&produceAnswer{resp}); failed != nil {
					cancel()
				}
			}
		}
		gate.setHold(false)
		sendErr <- failed
	}()
	var recvErr error
	req := &streamRequest{ProduceStreamRequest: new(v1.ProduceStreamRequest)}
	defer req.release()
	for {
		err := stream.Conn().Receive(req)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				recvErr = err
			}
			break
		}
		var charged int64
		if s.limits.InFlight != nil {
			// The wire size, which the decoder knows, rather than
			// proto.Size, which walks every message again.
			charged = int64(req.wireBytes)
			if charged == 0 {
				charged = int64(proto.Size(req))
			}
			if err := s.limits.InFlight.Acquire(ctx, charged); err != nil {
				break
			}
		}
		p, err := s.produceRequest(ctx, req)
		queue <- inflight{seq: req.Sequence, station: req.GetStation(), p: p, err: err, charged: charged}
		req.release()
	}
	close(queue)
	if err := <-sendErr; err != nil {
		return err
	}
	return recvErr
}

func (s *messageService) Pull(ctx context.Context, req *connect.Request[v1.PullRequest]) (*connect.Response[v1.PullResponse], error) {
	m := req.Msg
	start, err := startFromProto(m.GetStart())
	if err != nil {
		return nil, Error(err, m.Station, m.Group)
	}
	maxWait := m.GetMaxWait().AsDuration()
	if maxWait < 0 || maxWait > 5*time.Minute {
		return nil, Error(invalid("max_wait", "must be between 0 and 5m, got %s", maxWait), m.Station, m.Group)
	}
	n := int(m.GetMaxMessages())
	if n == 0 {
		n = 1
	}
	batchWait := m.GetBatchWait().AsDuration()
	if batchWait < 0 || batchWait > 5*time.Minute {
		return nil, Error(invalid("batch_wait", "must be between 0 and 5m, got %s", batchWait), m.Station, m.Group)
	}
	opts := broker.PullOptions{Max: n, MaxWait: maxWait, Start: start, Config: groupConfigFromProto(m.GetConfig()),
		MinMessages: int(min(m.GetMinMessages(), m.GetMaxMessages())), BatchWait: batchWait}
	notPending, err := s.pullAcks(ctx, m)
	if err != nil {
		return nil, Error(err, m.Station, m.Group)
	}
	if m.RecordBatches {
		return s.pullBatches(ctx, m, opts, notPending)
	}
	ds, err := s.b.Pull(ctx, m.Station, m.Group, opts)
	if err != nil {
		return nil, Error(err, m.Station, m.Group)
	}
	if ctx.Err() != nil {
		// The caller is gone: hand the messages back rather than let them
		// wait out their ack deadline.
		s.release(ctx, m.Station, m.Group, ds)
		return nil, Error(ctx.Err(), m.Station, m.Group)
	}
	return connect.NewResponse(&v1.PullResponse{Messages: deliveriesToProto(ds), AcksApplied: true, AcksNotPending: notPending}), nil
}

func (s *messageService) Consume(ctx context.Context, req *connect.Request[v1.ConsumeRequest], stream *connect.ServerStream[v1.ConsumeResponse]) error {
	m := req.Msg
	start, err := startFromProto(m.GetStart())
	if err != nil {
		return Error(err, m.Station, m.Group)
	}
	n := int(m.GetBatchSize())
	if n == 0 {
		n = 100
	}
	opts := broker.PullOptions{Max: n, MaxWait: 30 * time.Second, Start: start, Config: groupConfigFromProto(m.GetConfig())}
	if m.RecordBatches {
		return s.consumeBatches(ctx, m, opts, stream)
	}
	for {
		ds, err := s.b.Pull(ctx, m.Station, m.Group, opts)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return Error(err, m.Station, m.Group)
		}
		if len(ds) == 0 {
			continue
		}
		if err := stream.Send(&v1.ConsumeResponse{Messages: deliveriesToProto(ds)}); err != nil {
			s.release(ctx, m.Station, m.Group, ds)
			return err
		}
	}
}

func (s *messageService) Ack(ctx context.Context, req *connect.Request[v1.AckRequest]) (*connect.Response[v1.AckResponse], error) {
	err := s.b.Ack(ctx, req.Msg.Station, req.Msg.Group, refsFromProto(req.Msg.Messages))
	if len(req.Msg.Ranges) > 0 && (err == nil || errors.Is(err, broker.ErrNotPending)) {
		// Both kinds are applied; the first failure is reported.
		if rerr := s.b.AckRanges(ctx, req.Msg.Station, req.Msg.Group, rangesFromProto(req.Msg.Ranges)); err == nil {
			err = rerr
		}
	}
	if err != nil {
		return nil, Error(err, req.Msg.Station, req.Msg.Group)
	}
	return connect.NewResponse(&v1.AckResponse{}), nil
}

func (s *messageService) Nack(ctx context.Context, req *connect.Request[v1.NackRequest]) (*connect.Response[v1.NackResponse], error) {
	if err := s.b.Nack(ctx, req.Msg.Station, req.Msg.Group, refsFromProto(req.Msg.Messages), req.Msg.GetDelay().AsDuration()); err != nil {
		return nil, Error(err, req.Msg.Station, req.Msg.Group)
	}
	return connect.NewResponse(&v1.NackResponse{}), nil
}

// release returns undelivered deliveries to their group at once, also
// when ctx (the caller's, usually gone) is done.
func (s *messageService) release(ctx context.Context, station, group string, ds []broker.Delivery) {
	refs := make([]broker.MessageRef, len(ds))
	for i, d := range ds {
		refs[i] = broker.MessageRef{Partition: d.Partition, Offset: d.Record.Offset}
	}
	s.b.Nack(context.WithoutCancel(ctx), station, group, refs, 0)
}

func refsFromProto(ms []*v1.MessageRefs) []broker.MessageRef {
	n := 0
	for _, m := range ms {
		n += len(m.Offsets)
	}
	refs := make([]broker.MessageRef, 0, n)
	for _, m := range ms {
		for _, off := range m.Offsets {
			refs = append(refs, broker.MessageRef{Partition: m.Partition, Offset: off})
		}
	}
	return refs
}

func deliveriesToProto(ds []broker.Delivery) []*v1.Delivery {
	out := make([]*v1.Delivery, len(ds))
	backing := make([]v1.Delivery, len(ds))
	stamps := make([]timestamppb.Timestamp, len(ds))
	for i := range ds {
		d, r := &backing[i], &ds[i].Record
		stamps[i].Seconds, stamps[i].Nanos = r.Timestamp/1e9, int32(r.Timestamp%1e9)
		d.Partition, d.Offset, d.Timestamp = ds[i].Partition, r.Offset, &stamps[i]
		d.Key, d.Value, d.DeliveryCount = r.Key, r.Value, ds[i].DeliveryCount
		if len(r.Headers) > 0 {
			d.Headers = make([]*v1.Header, len(r.Headers))
			for j, h := range r.Headers {
				d.Headers[j] = &v1.Header{Key: h.Key, Value: h.Value}
			}
		}
		out[i] = d
	}
	return out
}

func startFromProto(p *v1.StartPosition) (broker.StartPosition, error) {
	switch pos := p.GetPosition().(type) {
	case nil, *v1.StartPosition_Earliest:
		return broker.StartPosition{Kind: broker.StartEarliest}, nil
	case *v1.StartPosition_Latest:
		return broker.StartPosition{Kind: broker.StartLatest}, nil
	case *v1.StartPosition_Offset:
		return broker.StartPosition{Kind: broker.StartOffset, Offset: pos.Offset}, nil
	case *v1.StartPosition_Time:
		if err := pos.Time.CheckValid(); err != nil {
			return broker.StartPosition{}, invalid("start.time", "%v", err)
		}
		return broker.StartPosition{Kind: broker.StartTime, Time: pos.Time.AsTime()}, nil
	}
	return broker.StartPosition{}, invalid("start", "unknown start position")
}

func groupConfigFromProto(p *v1.GroupConfig) broker.GroupConfig {
	return broker.GroupConfig{
		AckDeadline:   p.GetAckDeadline().AsDuration(),
		MaxDeliveries: p.GetMaxDeliveries(),
		MaxAckPending: p.GetMaxAckPending(),
	}
}

// Groups.

func (s *groupService) CreateGroup(ctx context.Context, req *connect.Request[v1.CreateGroupRequest]) (*connect.Response[v1.CreateGroupResponse], error) {
	m := req.Msg
	start, err := startFromProto(m.GetStart())
	if err != nil {
		return nil, Error(err, m.Station, m.Group)
	}
	gi, err := s.b.CreateGroup(ctx, m.Station, m.Group, start, groupConfigFromProto(m.GetConfig()))
	if err != nil {
		return nil, Error(err, m.Station, m.Group)
	}
	return connect.NewResponse(&v1.CreateGroupResponse{Group: groupToProto(gi)}), nil
}

func (s *groupService) ListGroups(ctx context.Context, req *connect.Request[v1.ListGroupsRequest]) (*connect.Response[v1.ListGroupsResponse], error) {
	gis, err := s.b.Groups(req.Msg.Station)
	if err != nil {
		return nil, Error(err, req.Msg.Station, "")
	}
	resp := &v1.ListGroupsResponse{}
	for _, gi := range gis {
		resp.Groups = append(resp.Groups, groupToProto(gi))
	}
	return connect.NewResponse(resp), nil
}

func (s *groupService) DescribeGroup(ctx context.Context, req *connect.Request[v1.DescribeGroupRequest]) (*connect.Response[v1.DescribeGroupResponse], error) {
	gi, err := s.b.Group(req.Msg.Station, req.Msg.Group)
	if err != nil {
		return nil, Error(err, req.Msg.Station, req.Msg.Group)
	}
	return connect.NewResponse(&v1.DescribeGroupResponse{Group: groupToProto(gi)}), nil
}

func (s *groupService) DeleteGroup(ctx context.Context, req *connect.Request[v1.DeleteGroupRequest]) (*connect.Response[v1.DeleteGroupResponse], error) {
	if err := s.b.DeleteGroup(ctx, req.Msg.Station, req.Msg.Group); err != nil {
		return nil, Error(err, req.Msg.Station, req.Msg.Group)
	}
	return connect.NewResponse(&v1.DeleteGroupResponse{}), nil
}

func (s *groupService) ResetGroupOffset(ctx context.Context, req *connect.Request[v1.ResetGroupOffsetRequest]) (*connect.Response[v1.ResetGroupOffsetResponse], error) {
	m := req.Msg
	start, err := startFromProto(m.GetStart())
	if err != nil {
		return nil, Error(err, m.Station, m.Group)
	}
	gi, err := s.b.ResetGroupOffset(ctx, m.Station, m.Group, start)
	if err != nil {
		return nil, Error(err, m.Station, m.Group)
	}
	return connect.NewResponse(&v1.ResetGroupOffsetResponse{Group: groupToProto(gi)}), nil
}

func groupToProto(gi broker.GroupInfo) *v1.Group {
	g := &v1.Group{
		Station: gi.Station,
		Name:    gi.Name,
		Config: &v1.GroupConfig{
			AckDeadline:   durationpb.New(gi.Config.AckDeadline),
			MaxDeliveries: gi.Config.MaxDeliveries,
			MaxAckPending: gi.Config.MaxAckPending,
		},
		Lag:          gi.Lag,
		Pending:      uint32(gi.Pending),
		CreatedAt:    timestamppb.New(gi.CreatedAt),
		DeadLettered: gi.DeadLettered,
		Redelivered:  gi.Redelivered,
	}
	for i, p := range gi.Partitions {
		g.Partitions = append(g.Partitions, &v1.PartitionLag{
			Partition: uint32(i), CommittedOffset: p.Committed, CheckpointedOffset: p.Checkpointed, NextOffset: p.Next, Lag: p.Lag, Pending: uint32(p.Pending),
		})
	}
	return g
}
