package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const testProject = "junction-test"

// fakeBQ is a protocol-level fake of BigQuery on loopback: the Storage
// Write gRPC service and the REST endpoints the connector uses. It keeps
// the rows appended (decoded with the writer schema the client sends) and
// enforces stream offsets as BigQuery does, answering conflicts in-band.
type fakeBQ struct {
	storagepb.UnimplementedBigQueryWriteServer

	mu       sync.Mutex
	datasets map[string]bool
	tables   map[string]*fakeTable // by "dataset.table"
	streams  map[string]*fakeStream
	results  map[string]*fakeResult // query results by job id
	seq      int

	// Hooks, set by tests under mu.
	rejectRow    func(table string, row map[string]any) string   // non-empty: a row error with this message
	denied       bool                                            // every call answers permission denied
	pageCap      int                                             // most rows in a page of query results; 0: no limit
	pages        int                                             // getQueryResults calls
	beforePage   func(r *http.Request)                           // called before a getQueryResults call, without the lock; may block
	discard      bool                                            // keep no data rows (benchmarks)
	onAppend     func(stream string, offset int64, rows int)     // after an append landed
	beforeAppend func(stream string, offset int64)               // called before an append is processed (offset -1: none), without the lock; may block
	onRequest    func(stream string, rows, bytes int)            // every append request received, under the lock
	refused      map[storagepb.StorageError_StorageErrorCode]int // in-band append errors by code
	queries      []fakeQuery

	rest     *httptest.Server
	grpcSrv  *grpc.Server
	grpcAddr string
}

type fakeTable struct {
	meta *bq.Table
	rows []map[string]any
	etag int
}

type fakeStream struct {
	name      string
	table     string
	typ       storagepb.WriteStream_Type
	count     int64
	finalized bool
	committed bool
	created   time.Time
	// pending holds a PENDING stream's rows until they are committed.
	pending []map[string]any
}

type fakeResult struct {
	schema *bq.TableSchema
	rows   []*bq.TableRow
}

type fakeQuery struct {
	SQL            string
	MaxBytesBilled int64
	Params         map[string]any
}

func newFakeBQ(t testing.TB) *fakeBQ {
	t.Helper()
	f := &fakeBQ{datasets: map[string]bool{}, tables: map[string]*fakeTable{}, streams: map[string]*fakeStream{}, results: map[string]*fakeResult{}, refused: map[storagepb.StorageError_StorageErrorCode]int{}}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.grpcSrv = grpc.NewServer(grpc.MaxRecvMsgSize(20 << 20))
	storagepb.RegisterBigQueryWriteServer(f.grpcSrv, f)
	go func() { _ = f.grpcSrv.Serve(lis) }()
	f.grpcAddr = lis.Addr().String()
	f.rest = httptest.NewServer(http.HandlerFunc(f.serveREST))
	t.Cleanup(func() {
		f.grpcSrv.Stop()
		f.rest.CloseClientConnections()
		f.rest.Close()
	})
	return f
}

// config is a connector config pointing at the fake, merged with extra.
func (f *fakeBQ) config(extra map[string]any) map[string]any {
	cfg := map[string]any{
		"project":                testProject,
		"dataset":                "ds",
		"table":                  "events",
		"endpoint":               f.rest.URL + "/bigquery/v2/",
		"storage_endpoint":       f.grpcAddr,
		"without_authentication": true,
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

func (f *fakeBQ) set(fn func(f *fakeBQ)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// createTable makes dataset and table with the given schema.
func (f *fakeBQ) createTable(dataset, table string, schema *bq.TableSchema, tp *bq.TimePartitioning) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.datasets[dataset] = true
	f.tables[dataset+"."+table] = &fakeTable{etag: 1, meta: &bq.Table{
		TableReference:   &bq.TableReference{ProjectId: testProject, DatasetId: dataset, TableId: table},
		Schema:           schema,
		TimePartitioning: tp,
	}}
}

// insert adds rows to a table directly, as another writer would.
func (f *fakeBQ) insert(dataset, table string, rows ...map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tb := f.tables[dataset+"."+table]
	tb.rows = append(tb.rows, rows...)
}

// rows returns a copy of a table's rows.
func (f *fakeBQ) rows(dataset, table string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	tb := f.tables[dataset+"."+table]
	if tb == nil {
		return nil
	}
	return append([]map[string]any(nil), tb.rows...)
}

func (f *fakeBQ) table(dataset, table string) *bq.Table {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tb := f.tables[dataset+"."+table]; tb != nil {
		return tb.meta
	}
	return nil
}

// expireStreams forgets every write stream, as BigQuery's garbage
// collection of idle streams would.
func (f *fakeBQ) expireStreams() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.streams)
}

func (f *fakeBQ) queryLog() []fakeQuery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeQuery(nil), f.queries...)
}

// ---- Storage Write API ----

func storageStatus(c codes.Code, sc storagepb.StorageError_StorageErrorCode, entity, msg string) *status.Status {
	st := status.New(c, msg)
	if sc != storagepb.StorageError_STORAGE_ERROR_CODE_UNSPECIFIED {
		if d, err := st.WithDetails(&storagepb.StorageError{Code: sc, Entity: entity, ErrorMessage: msg}); err == nil {
			st = d
		}
	}
	return st
}

func deniedStatus() error {
	st, _ := status.New(codes.PermissionDenied, "Permission 'TABLES_UPDATE_DATA' denied on resource").WithDetails(&errdetails.ErrorInfo{Reason: "IAM_PERMISSION_DENIED"})
	return st.Err()
}

// tableOf returns "dataset.table" for a projects/p/datasets/d/tables/t
// path (with or without a /streams/x suffix).
func tableOf(name string) string {
	parts := strings.Split(name, "/")
	if len(parts) < 6 {
		return ""
	}
	return parts[3] + "." + parts[5]
}

func (f *fakeBQ) CreateWriteStream(_ context.Context, req *storagepb.CreateWriteStreamRequest) (*storagepb.WriteStream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.denied {
		return nil, deniedStatus()
	}
	tn := tableOf(req.GetParent())
	if f.tables[tn] == nil {
		return nil, storageStatus(codes.NotFound, storagepb.StorageError_TABLE_NOT_FOUND, req.GetParent(), "Table not found: "+tn).Err()
	}
	f.seq++
	s := &fakeStream{name: fmt.Sprintf("%s/streams/s%04d", req.GetParent(), f.seq), table: tn, typ: req.GetWriteStream().GetType(), created: time.Now()}
	f.streams[s.name] = s
	return s.proto(), nil
}

func (s *fakeStream) proto() *storagepb.WriteStream {
	ts := timestamppb.New(s.created)
	return &storagepb.WriteStream{Name: s.name, Type: s.typ, CreateTime: ts, CommitTime: ts, Location: "US"}
}

func (f *fakeBQ) GetWriteStream(_ context.Context, req *storagepb.GetWriteStreamRequest) (*storagepb.WriteStream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.denied {
		return nil, deniedStatus()
	}
	if strings.HasSuffix(req.GetName(), "/streams/_default") {
		if f.tables[tableOf(req.GetName())] == nil {
			return nil, storageStatus(codes.NotFound, storagepb.StorageError_TABLE_NOT_FOUND, req.GetName(), "Table not found").Err()
		}
		return &storagepb.WriteStream{Name: req.GetName(), Type: storagepb.WriteStream_COMMITTED, Location: "US"}, nil
	}
	s := f.streams[req.GetName()]
	if s == nil {
		return nil, storageStatus(codes.NotFound, storagepb.StorageError_STREAM_NOT_FOUND, req.GetName(), "Stream not found: "+req.GetName()).Err()
	}
	return s.proto(), nil
}

func (f *fakeBQ) FinalizeWriteStream(_ context.Context, req *storagepb.FinalizeWriteStreamRequest) (*storagepb.FinalizeWriteStreamResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.streams[req.GetName()]
	if s == nil {
		return nil, storageStatus(codes.NotFound, storagepb.StorageError_STREAM_NOT_FOUND, req.GetName(), "Stream not found: "+req.GetName()).Err()
	}
	s.finalized = true
	return &storagepb.FinalizeWriteStreamResponse{RowCount: s.count}, nil
}

func (f *fakeBQ) BatchCommitWriteStreams(_ context.Context, req *storagepb.BatchCommitWriteStreamsRequest) (*storagepb.BatchCommitWriteStreamsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []*storagepb.StorageError
	for _, n := range req.GetWriteStreams() {
		s := f.streams[n]
		switch {
		case s == nil:
			errs = append(errs, &storagepb.StorageError{Code: storagepb.StorageError_STREAM_NOT_FOUND, Entity: n})
		case s.typ != storagepb.WriteStream_PENDING:
			errs = append(errs, &storagepb.StorageError{Code: storagepb.StorageError_INVALID_STREAM_TYPE, Entity: n, ErrorMessage: "only PENDING streams are committed"})
		case !s.finalized:
			errs = append(errs, &storagepb.StorageError{Code: storagepb.StorageError_INVALID_STREAM_STATE, Entity: n, ErrorMessage: "stream is not finalized"})
		case s.committed:
			errs = append(errs, &storagepb.StorageError{Code: storagepb.StorageError_STREAM_ALREADY_COMMITTED, Entity: n})
		}
	}
	if len(errs) > 0 {
		return &storagepb.BatchCommitWriteStreamsResponse{StreamErrors: errs}, nil
	}
	for _, n := range req.GetWriteStreams() {
		s := f.streams[n]
		tb := f.tables[s.table]
		tb.rows = append(tb.rows, s.pending...)
		s.pending, s.committed = nil, true
	}
	return &storagepb.BatchCommitWriteStreamsResponse{CommitTime: timestamppb.Now()}, nil
}

// AppendRows keeps the stream name and writer schema per connection: the
// client sends them on the first request only.
func (f *fakeBQ) AppendRows(stream storagepb.BigQueryWrite_AppendRowsServer) error {
	var name string
	var msgType protoreflect.MessageType
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if req.GetWriteStream() != "" {
			name = req.GetWriteStream()
		}
		if d := req.GetProtoRows().GetWriterSchema().GetProtoDescriptor(); d != nil {
			fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
				Name: proto.String("row.proto"), Syntax: proto.String("proto2"), MessageType: []*descriptorpb.DescriptorProto{d},
			}, nil)
			if err != nil {
				return status.Errorf(codes.InvalidArgument, "bad writer schema: %v", err)
			}
			msgType = dynamicpb.NewMessageType(fd.Messages().Get(0))
		}
		f.mu.Lock()
		before := f.beforeAppend
		f.mu.Unlock()
		if before != nil {
			// Once received, an append is processed even if its client
			// is gone by then, as BigQuery would.
			off := int64(-1)
			if o := req.GetOffset(); o != nil {
				off = o.GetValue()
			}
			before(name, off)
		}
		if err := stream.Send(f.append(name, msgType, req)); err != nil {
			return err
		}
	}
}

func (f *fakeBQ) append(name string, mt protoreflect.MessageType, req *storagepb.AppendRowsRequest) *storagepb.AppendRowsResponse {
	fail := func(st *status.Status) *storagepb.AppendRowsResponse {
		for _, d := range st.Details() {
			if se, ok := d.(*storagepb.StorageError); ok {
				f.refused[se.GetCode()]++
			}
		}
		return &storagepb.AppendRowsResponse{Response: &storagepb.AppendRowsResponse_Error{Error: st.Proto()}, WriteStream: name}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.denied {
		s, _ := status.FromError(deniedStatus())
		return fail(s)
	}
	if mt == nil {
		return fail(status.New(codes.InvalidArgument, "no writer schema"))
	}
	if f.onRequest != nil {
		size := 0
		for _, r := range req.GetProtoRows().GetRows().GetSerializedRows() {
			size += len(r)
		}
		f.onRequest(name, len(req.GetProtoRows().GetRows().GetSerializedRows()), size)
	}
	tn := tableOf(name)
	tb := f.tables[tn]
	var s *fakeStream
	if strings.HasSuffix(name, "/streams/_default") {
		if tb == nil {
			return fail(storageStatus(codes.NotFound, storagepb.StorageError_TABLE_NOT_FOUND, name, "Table not found"))
		}
		s = &fakeStream{name: name}
	} else {
		s = f.streams[name]
		if s == nil {
			return fail(storageStatus(codes.NotFound, storagepb.StorageError_STREAM_NOT_FOUND, name, "Stream not found: "+name))
		}
		if s.finalized {
			return fail(storageStatus(codes.InvalidArgument, storagepb.StorageError_STREAM_FINALIZED, name, "Stream is finalized: "+name))
		}
	}
	off := s.count
	if o := req.GetOffset(); o != nil {
		switch {
		case o.GetValue() < s.count:
			return fail(storageStatus(codes.AlreadyExists, storagepb.StorageError_OFFSET_ALREADY_EXISTS, name,
				fmt.Sprintf("The offset is within stream, expected offset %d, received %d", s.count, o.GetValue())))
		case o.GetValue() > s.count:
			return fail(storageStatus(codes.OutOfRange, storagepb.StorageError_OFFSET_OUT_OF_RANGE, name,
				fmt.Sprintf("The offset is beyond stream, expected offset %d, received %d", s.count, o.GetValue())))
		}
	}
	// Columns of the writer schema must exist in the table.
	cols := map[string]*bq.TableFieldSchema{}
	for _, c := range tb.meta.Schema.Fields {
		cols[strings.ToLower(c.Name)] = c
	}
	fields := mt.Descriptor().Fields()
	for i := range fields.Len() {
		if cols[string(fields.Get(i).Name())] == nil {
			return fail(storageStatus(codes.InvalidArgument, storagepb.StorageError_SCHEMA_MISMATCH_EXTRA_FIELDS, name,
				fmt.Sprintf("Input schema has more fields than BigQuery schema, extra fields: '%s'", fields.Get(i).Name())))
		}
	}
	var rows []map[string]any
	var rowErrs []*storagepb.RowError
	for i, raw := range req.GetProtoRows().GetRows().GetSerializedRows() {
		m := mt.New()
		if err := proto.Unmarshal(raw, m.Interface()); err != nil {
			rowErrs = append(rowErrs, &storagepb.RowError{Index: int64(i), Code: storagepb.RowError_FIELDS_ERROR, Message: "cannot decode row: " + err.Error()})
			continue
		}
		row := decodeMessage(m)
		msg := checkRow(tb.meta.Schema.Fields, row)
		if msg == "" && f.rejectRow != nil {
			msg = f.rejectRow(tn, row)
		}
		if msg != "" {
			rowErrs = append(rowErrs, &storagepb.RowError{Index: int64(i), Code: storagepb.RowError_FIELDS_ERROR, Message: msg})
			continue
		}
		rows = append(rows, row)
	}
	if len(rowErrs) > 0 {
		resp := fail(status.New(codes.InvalidArgument, "Errors found while processing rows. Please refer to the row_errors field for details. The list may not be complete because of the size limitations."))
		resp.RowErrors = rowErrs
		return resp
	}
	st := f.streams[name]
	switch {
	case st != nil && st.typ == storagepb.WriteStream_PENDING:
		st.pending = append(st.pending, rows...)
	case !f.discard || tn == "ds._junction_streams":
		tb.rows = append(tb.rows, rows...)
	}
	if st != nil {
		st.count += int64(len(rows))
	}
	if f.onAppend != nil {
		f.onAppend(name, off, len(rows))
	}
	resp := &storagepb.AppendRowsResponse{WriteStream: name, Response: &storagepb.AppendRowsResponse_AppendResult_{AppendResult: &storagepb.AppendRowsResponse_AppendResult{}}}
	if req.GetOffset() != nil {
		resp.GetAppendResult().Offset = wrapperspb.Int64(off)
	}
	return resp
}

// decodeMessage turns a row message into a map of column name to value:
// string, int64, float64, bool, []byte, or []map[string]any for repeated
// records.
func decodeMessage(m protoreflect.Message) map[string]any {
	row := map[string]any{}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := string(fd.Name())
		if fd.IsList() {
			l := v.List()
			var out []any
			for i := range l.Len() {
				out = append(out, scalar(fd, l.Get(i)))
			}
			row[name] = out
			return true
		}
		row[name] = scalar(fd, v)
		return true
	})
	return row
}

func scalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.MessageKind:
		return decodeMessage(v.Message())
	case protoreflect.BytesKind:
		return append([]byte(nil), v.Bytes()...)
	case protoreflect.Int32Kind, protoreflect.Int64Kind:
		return v.Int()
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		return v.Float()
	case protoreflect.BoolKind:
		return v.Bool()
	}
	return v.String()
}

// checkRow reports what BigQuery would reject in a row: a missing
// REQUIRED column or invalid JSON in a JSON column.
func checkRow(fields []*bq.TableFieldSchema, row map[string]any) string {
	for _, c := range fields {
		v, ok := row[strings.ToLower(c.Name)]
		if c.Mode == "REQUIRED" && !ok {
			return fmt.Sprintf("Required field %s cannot be null", c.Name)
		}
		if s, isStr := v.(string); ok && isStr && c.Type == "JSON" && !json.Valid([]byte(s)) {
			return fmt.Sprintf("Invalid JSON in field %s", c.Name)
		}
	}
	return ""
}

// ---- REST ----

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func restError(w http.ResponseWriter, code int, reason, msg string) {
	st := map[int]string{400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION"}[code]
	writeJSON(w, code, map[string]any{"error": map[string]any{
		"code": code, "message": msg, "status": st,
		"errors": []map[string]any{{"reason": reason, "message": msg, "domain": "global"}},
	}})
}

var (
	reDataset  = regexp.MustCompile(`^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)$`)
	reDatasets = regexp.MustCompile(`^/bigquery/v2/projects/([^/]+)/datasets$`)
	reTable    = regexp.MustCompile(`^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables/([^/]+)$`)
	reTables   = regexp.MustCompile(`^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables$`)
	reQueries  = regexp.MustCompile(`^/bigquery/v2/projects/([^/]+)/queries$`)
	reQuery    = regexp.MustCompile(`^/bigquery/v2/projects/([^/]+)/queries/([^/]+)$`)
)

func (f *fakeBQ) serveREST(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	before := f.beforePage
	f.mu.Unlock()
	if before != nil && r.Method == http.MethodGet && reQuery.MatchString(r.URL.Path) {
		before(r)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.denied {
		restError(w, 403, "accessDenied", "Access Denied: Table "+testProject+":ds.events: Permission bigquery.tables.get denied on table "+testProject+":ds.events (or it may not exist).")
		return
	}
	p := r.URL.Path
	var m []string
	switch {
	case r.Method == http.MethodGet && match(reDataset, p, &m):
		if !f.datasets[m[2]] {
			restError(w, 404, "notFound", "Not found: Dataset "+m[1]+":"+m[2])
			return
		}
		writeJSON(w, 200, &bq.Dataset{Kind: "bigquery#dataset", Id: m[1] + ":" + m[2], Location: "US",
			DatasetReference: &bq.DatasetReference{ProjectId: m[1], DatasetId: m[2]}})
	case r.Method == http.MethodPost && match(reDatasets, p, &m):
		var d bq.Dataset
		if err := json.NewDecoder(r.Body).Decode(&d); err != nil {
			restError(w, 400, "invalid", err.Error())
			return
		}
		if f.datasets[d.DatasetReference.DatasetId] {
			restError(w, 409, "duplicate", "Already Exists: Dataset "+d.DatasetReference.DatasetId)
			return
		}
		f.datasets[d.DatasetReference.DatasetId] = true
		writeJSON(w, 200, &d)
	case r.Method == http.MethodGet && match(reTable, p, &m):
		tb := f.tables[m[2]+"."+m[3]]
		if tb == nil {
			restError(w, 404, "notFound", "Not found: Table "+m[1]+":"+m[2]+"."+m[3])
			return
		}
		writeJSON(w, 200, tb.json())
	case r.Method == http.MethodPost && match(reTables, p, &m):
		var t bq.Table
		if err := json.NewDecoder(r.Body).Decode(&t); err != nil {
			restError(w, 400, "invalid", err.Error())
			return
		}
		if !f.datasets[m[2]] {
			restError(w, 404, "notFound", "Not found: Dataset "+m[1]+":"+m[2])
			return
		}
		key := m[2] + "." + t.TableReference.TableId
		if f.tables[key] != nil {
			restError(w, 409, "duplicate", "Already Exists: Table "+key)
			return
		}
		tb := &fakeTable{meta: &t, etag: 1}
		f.tables[key] = tb
		writeJSON(w, 200, tb.json())
	case (r.Method == http.MethodPatch || r.Method == http.MethodPut) && match(reTable, p, &m):
		tb := f.tables[m[2]+"."+m[3]]
		if tb == nil {
			restError(w, 404, "notFound", "Not found: Table "+m[2]+"."+m[3])
			return
		}
		if et := r.Header.Get("If-Match"); et != "" && et != strconv.Itoa(tb.etag) {
			restError(w, 412, "failedPrecondition", "Precondition check failed.")
			return
		}
		var t bq.Table
		if err := json.NewDecoder(r.Body).Decode(&t); err != nil {
			restError(w, 400, "invalid", err.Error())
			return
		}
		if t.Schema != nil {
			if msg := schemaChange(tb.meta.Schema, t.Schema); msg != "" {
				restError(w, 400, "invalid", msg)
				return
			}
			tb.meta.Schema = t.Schema
		}
		tb.etag++
		writeJSON(w, 200, tb.json())
	case r.Method == http.MethodPost && match(reQueries, p, &m):
		var q bq.QueryRequest
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
			restError(w, 400, "invalid", err.Error())
			return
		}
		res, err := f.runQuery(&q)
		if err != nil {
			restError(w, 400, "invalidQuery", err.Error())
			return
		}
		f.seq++
		jobID := fmt.Sprintf("job_%d", f.seq)
		f.results[jobID] = res
		max := strconv.Itoa(f.pageCap)
		if q.MaxResults > 0 && (f.pageCap == 0 || int(q.MaxResults) < f.pageCap) {
			max = strconv.FormatInt(q.MaxResults, 10)
		}
		rows, token := res.page("", max)
		writeJSON(w, 200, &bq.QueryResponse{Kind: "bigquery#queryResponse", JobComplete: true, Schema: res.schema, Rows: rows, PageToken: token,
			TotalRows: uint64(len(res.rows)), JobReference: &bq.JobReference{ProjectId: m[1], JobId: jobID, Location: "US"}})
	case r.Method == http.MethodGet && match(reQuery, p, &m):
		res := f.results[m[2]]
		if res == nil {
			restError(w, 404, "notFound", "Not found: Job "+m[2])
			return
		}
		max := r.URL.Query().Get("maxResults")
		if n, _ := strconv.Atoi(max); f.pageCap > 0 && (n == 0 || n > f.pageCap) {
			max = strconv.Itoa(f.pageCap)
		}
		rows, token := res.page(r.URL.Query().Get("pageToken"), max)
		f.pages++
		writeJSON(w, 200, &bq.GetQueryResultsResponse{Kind: "bigquery#getQueryResultsResponse", JobComplete: true, Schema: res.schema, Rows: rows, PageToken: token,
			TotalRows: uint64(len(res.rows)), JobReference: &bq.JobReference{ProjectId: m[1], JobId: m[2], Location: "US"}})
	default:
		restError(w, 400, "invalid", "the fake does not serve "+r.Method+" "+p)
	}
}

func match(re *regexp.Regexp, p string, m *[]string) bool {
	*m = re.FindStringSubmatch(p)
	return *m != nil
}

func (tb *fakeTable) json() *bq.Table {
	t := *tb.meta
	t.Kind = "bigquery#table"
	t.Id = t.TableReference.ProjectId + ":" + t.TableReference.DatasetId + "." + t.TableReference.TableId
	t.Etag = strconv.Itoa(tb.etag)
	t.Type = "TABLE"
	t.Location = "US"
	t.NumRows = uint64(len(tb.rows))
	return &t
}

// schemaChange reports why BigQuery would refuse to change old into new:
// only NULLABLE columns may be added, none dropped or changed.
func schemaChange(old, new *bq.TableSchema) string {
	byName := map[string]*bq.TableFieldSchema{}
	for _, f := range new.Fields {
		byName[strings.ToLower(f.Name)] = f
	}
	for _, f := range old.Fields {
		n := byName[strings.ToLower(f.Name)]
		if n == nil {
			return "Provided Schema does not match Table. Field " + f.Name + " is missing in new schema"
		}
		if n.Type != f.Type {
			return "Provided Schema does not match Table. Field " + f.Name + " has changed type"
		}
	}
	for _, f := range new.Fields[len(old.Fields):] {
		if f.Mode == "REQUIRED" {
			return "Provided Schema does not match Table. Cannot add required field " + f.Name
		}
	}
	return ""
}

func (res *fakeResult) page(token, maxResults string) ([]*bq.TableRow, string) {
	start, _ := strconv.Atoi(token)
	n, _ := strconv.Atoi(maxResults)
	if n <= 0 {
		n = 100000
	}
	end := min(start+n, len(res.rows))
	if start > end {
		start = end
	}
	next := ""
	if end < len(res.rows) {
		next = strconv.Itoa(end)
	}
	return res.rows[start:end], next
}

// encodeRow renders a stored row in the REST f/v form, timestamps as
// int64 microseconds (the client asks for useInt64Timestamp).
func encodeRow(fields []*bq.TableFieldSchema, row map[string]any) *bq.TableRow {
	out := &bq.TableRow{}
	for _, f := range fields {
		out.F = append(out.F, &bq.TableCell{V: encodeCell(f, row[strings.ToLower(f.Name)])})
	}
	return out
}

func encodeCell(f *bq.TableFieldSchema, v any) any {
	if v == nil {
		if f.Mode == "REPEATED" {
			return []any{}
		}
		return nil
	}
	if f.Mode == "REPEATED" {
		var out []any
		for _, e := range v.([]any) {
			out = append(out, map[string]any{"v": encodeScalar(f, e)})
		}
		return out
	}
	return encodeScalar(f, v)
}

func encodeScalar(f *bq.TableFieldSchema, v any) any {
	switch x := v.(type) {
	case map[string]any:
		return encodeRow(f.Fields, x)
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	case int64:
		if f.Type == "DATE" {
			return time.Unix(x*86400, 0).UTC().Format("2006-01-02")
		}
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

var (
	reSourceSQL = regexp.MustCompile("^SELECT \\* FROM `([^`]+)` WHERE \\(@position IS NULL OR `?(\\w+)`? > @position\\)(.*) ORDER BY `?(\\w+)`?$")
	reLedgerSQL = regexp.MustCompile("^SELECT `connector`, `station`, `partition`, `kind`, `stream`, `epoch`, `base`, `offset`, `count` FROM `([^`]+)` WHERE `connector` = @connector AND `station` = @station$")
	reMaxSQL    = regexp.MustCompile("^SELECT MAX\\(`(\\w+)`\\) AS last FROM `([^`]+)` WHERE `(\\w+)` = @station AND `(\\w+)` = @partition$")
)

// runQuery evaluates the few query shapes the connector sends.
func (f *fakeBQ) runQuery(q *bq.QueryRequest) (*fakeResult, error) {
	params := map[string]any{}
	for _, p := range q.QueryParameters {
		var v any
		if p.ParameterValue != nil && (p.ParameterValue.Value != "" || p.ParameterValue.ForceSendFields != nil) {
			v = p.ParameterValue.Value
		}
		if p.ParameterValue == nil || p.ParameterValue.NullFields != nil {
			v = nil
		}
		params[p.Name] = v
	}
	f.queries = append(f.queries, fakeQuery{SQL: q.Query, MaxBytesBilled: q.MaximumBytesBilled, Params: params})
	if m := reSourceSQL.FindStringSubmatch(q.Query); m != nil {
		tb, err := f.queryTable(m[1])
		if err != nil {
			return nil, err
		}
		col := m[2]
		var typ string
		for _, c := range tb.meta.Schema.Fields {
			if c.Name == col {
				typ = c.Type
			}
		}
		var keep []map[string]any
		for _, row := range tb.rows {
			if params["position"] == nil || compareCell(typ, row[col], params["position"].(string)) > 0 {
				keep = append(keep, row)
			}
		}
		sort.SliceStable(keep, func(i, j int) bool { return lessCell(keep[i][col], keep[j][col]) })
		res := &fakeResult{schema: tb.meta.Schema}
		for _, row := range keep {
			res.rows = append(res.rows, encodeRow(tb.meta.Schema.Fields, row))
		}
		return res, nil
	}
	if m := reLedgerSQL.FindStringSubmatch(q.Query); m != nil {
		tb, err := f.queryTable(m[1])
		if err != nil {
			return nil, err
		}
		res := &fakeResult{schema: tb.meta.Schema}
		for _, row := range tb.rows {
			if row["connector"] == params["connector"] && row["station"] == params["station"] {
				res.rows = append(res.rows, encodeRow(tb.meta.Schema.Fields, row))
			}
		}
		return res, nil
	}
	if m := reMaxSQL.FindStringSubmatch(q.Query); m != nil {
		tb, err := f.queryTable(m[2])
		if err != nil {
			return nil, err
		}
		part, _ := strconv.ParseInt(fmt.Sprint(params["partition"]), 10, 64)
		var last any
		for _, row := range tb.rows {
			if row[m[3]] == params["station"] && row[m[4]] == part {
				if off := row[m[1]].(int64); last == nil || off > last.(int64) {
					last = off
				}
			}
		}
		field := &bq.TableFieldSchema{Name: "last", Type: "INTEGER", Mode: "NULLABLE"}
		return &fakeResult{schema: &bq.TableSchema{Fields: []*bq.TableFieldSchema{field}},
			rows: []*bq.TableRow{{F: []*bq.TableCell{{V: encodeCell(field, last)}}}}}, nil
	}
	return nil, fmt.Errorf("Syntax error: the fake cannot run %q", q.Query)
}

func (f *fakeBQ) queryTable(ref string) (*fakeTable, error) {
	parts := strings.Split(ref, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("table reference %q", ref)
	}
	tb := f.tables[parts[1]+"."+parts[2]]
	if tb == nil {
		return nil, fmt.Errorf("Not found: Table %s", ref)
	}
	return tb, nil
}

// compareCell compares a stored value with a query parameter's text.
func compareCell(typ string, v any, param string) int {
	switch typ {
	case "INTEGER", "INT64":
		p, _ := strconv.ParseInt(param, 10, 64)
		x, _ := v.(int64)
		return cmpInt(x, p)
	case "TIMESTAMP":
		// Timestamp parameters arrive as "2006-01-02 15:04:05.999999-07:00".
		t, err := time.Parse("2006-01-02 15:04:05.999999-07:00", param)
		if err != nil {
			t, _ = time.Parse(time.RFC3339Nano, param)
		}
		x, _ := v.(int64)
		return cmpInt(x, t.UnixMicro())
	}
	return strings.Compare(fmt.Sprint(v), param)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func lessCell(a, b any) bool {
	if x, ok := a.(int64); ok {
		y, _ := b.(int64)
		return x < y
	}
	return fmt.Sprint(a) < fmt.Sprint(b)
}
