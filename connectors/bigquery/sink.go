package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"cloud.google.com/go/bigquery/storage/managedwriter"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/schemacols"
)

// maxAppendBytes is what one AppendRows request may carry, less room for
// the request's other fields.
const maxAppendBytes = 10*1000*1000 - 64*1024

// SinkConfig configures the BigQuery sink.
type SinkConfig struct {
	conn

	Delivery     string `json:"delivery" default:"exactly_once" allowed:"exactly_once,at_least_once" doc:"exactly_once: one COMMITTED write stream per station partition with append offsets, recorded in streams_table, so that nothing is written twice across crashes and replays. at_least_once: the table's _default stream, cheaper and without bookkeeping; a replay after a crash writes the replayed records again."`
	Mode         string `json:"mode" default:"json" allowed:"json,columns" doc:"json: columns station, partition, offset, timestamp, key, headers, value (JSON) and value_bytes (values that are neither JSON nor text). columns: each top-level field of a JSON object value goes to the column of that name, plus _junction_station, _junction_partition, _junction_offset and _junction_timestamp."`
	AutoCreate   bool   `json:"auto_create" default:"true" doc:"Create the dataset and the table when missing (time-partitioned, see partitioning; in columns mode with a typed column per field of the station's schema when it has one); false: a missing one is an error."`
	EvolveSchema bool   `json:"evolve_schema" default:"false" doc:"columns mode: add a NULLABLE column for each top-level field the table lacks (type from the station's schema, added at Open, else from the value: INTEGER, FLOAT, STRING, BOOLEAN or JSON), then write with the new schema. false: such records go to the dead-letter station."`
	Partitioning struct {
		Type   string `json:"type" default:"DAY" allowed:"DAY,HOUR,MONTH,YEAR,NONE" doc:"Time partitioning of the tables the sink creates; NONE for none."`
		Column string `json:"column" doc:"TIMESTAMP column that partitions created tables, such as timestamp (json mode) or _junction_timestamp (columns mode); empty: ingestion time."`
	} `json:"partitioning"`
	Append struct {
		MaxRows  int            `json:"max_rows" default:"50000" doc:"Rows per AppendRows request at most; a Write sends as many requests as its records need."`
		MaxBytes connector.Size `json:"max_bytes" default:"9MiB" doc:"Encoded rows per AppendRows request at most; BigQuery takes requests up to 10 MB. A single row larger than this goes to the dead-letter station."`
	} `json:"append"`
	StreamsTable string `json:"streams_table" default:"_junction_streams" doc:"exactly_once: table in the dataset where the sink records its write streams and skipped records; created when missing, shared by all sinks of the dataset. Deleting it makes the sinks write everything again."`
}

// Validate checks the fields against each other.
func (c SinkConfig) Validate() error {
	errs := c.conn.validate()
	if c.Append.MaxRows < 1 {
		errs = append(errs, connector.FieldError{Field: "append.max_rows", Message: "must be at least 1"})
	}
	if c.Append.MaxBytes < 1 || c.Append.MaxBytes > maxAppendBytes {
		errs = append(errs, connector.FieldError{Field: "append.max_bytes", Message: fmt.Sprintf("must be between 1 and %d bytes (BigQuery's 10 MB request limit)", maxAppendBytes)})
	}
	if c.Delivery == "exactly_once" && !idRE.MatchString(c.StreamsTable) {
		errs = append(errs, connector.FieldError{Field: "streams_table", Message: "must be a table id: letters, digits and underscores"})
	}
	if c.Delivery == "exactly_once" && strings.EqualFold(c.StreamsTable, c.Table) {
		errs = append(errs, connector.FieldError{Field: "streams_table", Message: "must not be the table the sink writes"})
	}
	if c.Mode == "json" && c.EvolveSchema {
		errs = append(errs, connector.FieldError{Field: "evolve_schema", Message: "only applies to mode columns"})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// sink writes records through the Storage Write API; see the package doc
// for how exactly_once keeps its streams.
type sink struct {
	connector.UnimplementedSink
	cfg     SinkConfig
	station string
	name    string
	log     *slog.Logger

	// life is the context of the clients and streams, which outlive the
	// calls that open them; Teardown cancels it.
	life     context.Context
	stopLife context.CancelFunc
	cl       *clients
	parent   string // projects/p/datasets/d/tables/t
	codec    *rowCodec
	etag     string
	ledger   *ledger // exactly_once only

	// schema is the columns of the station's schema (columns mode); nil
	// without one.
	schema *schemacols.Columns

	// parts is the state of each partition (exactly_once).
	parts map[uint32]*part
	// def is the _default stream (at_least_once).
	def *managedwriter.ManagedStream
	// broken is set when an append's outcome is unknown: this instance
	// writes no more, and the host reopens the sink to resolve it.
	brokenMu sync.Mutex
	broken   error
}

func hasStream(pl *partitionLedger, name string, base uint64) bool {
	b, ok := pl.streams[name]
	return ok && b == base
}

// part is one station partition's write state (exactly_once).
type part struct {
	p uint32
	// next is the next station offset to write: lower offsets are in the
	// table or were skipped.
	next uint64
	// epoch is the highest epoch in the ledger for the partition.
	epoch int64
	// ms is the partition's stream, nil until the first append of this
	// process or after it was finalized.
	ms *managedwriter.ManagedStream
	// base is the station offset of ms's row 0; rows is how many rows ms
	// holds.
	base uint64
	rows int64
}

func newSink(cfg SinkConfig) (connector.Sink, error) {
	return &sink{cfg: cfg}, nil
}

func fatalf(format string, args ...any) error {
	return connector.Fatal(fmt.Errorf(format, args...))
}

func isConflict(err error) bool {
	var gerr *googleapi.Error
	return errors.As(err, &gerr) && gerr.Code == http.StatusConflict
}

// Open connects, checks (or creates) the dataset and table and, for
// exactly_once, fences the streams of earlier runs and returns how far
// each partition got.
func (s *sink) Open(ctx context.Context, info connector.SinkInfo) (map[uint32]uint64, error) {
	if s.cl != nil {
		return nil, connector.Fatal(errors.New("sink opened twice"))
	}
	s.station, s.name, s.log = info.Station, info.Connector, connector.Logger(ctx)
	if s.cfg.Mode == "columns" {
		var err error
		if s.schema, err = schemacols.New(info.Schema); err != nil {
			return nil, connector.Fatal(fmt.Errorf("station %s: %w", s.station, err))
		}
	}
	s.life, s.stopLife = context.WithCancel(context.WithoutCancel(ctx))
	cl, err := newClients(s.life, s.cfg.conn, true)
	if err != nil {
		return nil, err
	}
	s.cl = cl
	s.parent = managedwriter.TableParentFromParts(s.cfg.Project, s.cfg.Dataset, s.cfg.Table)
	if err := s.prepareTable(ctx); err != nil {
		return nil, err
	}
	if s.cfg.Delivery == "at_least_once" {
		return nil, s.openDefault()
	}
	s.ledger, err = openLedger(ctx, s.life, cl, cl.bq.Dataset(s.cfg.Dataset), s.cfg.StreamsTable, s.name, s.station)
	if err != nil {
		return nil, err
	}
	known, err := s.ledger.load(ctx)
	if err != nil {
		return nil, err
	}
	s.parts = make(map[uint32]*part)
	durable := make(map[uint32]uint64)
	for p := range info.Partitions {
		durable[p] = 0
	}
	for p, pl := range known {
		next, err := s.fence(ctx, p, pl)
		if err != nil {
			return nil, err
		}
		durable[p] = next
		s.parts[p] = &part{p: p, next: next, epoch: pl.epoch}
	}
	for p := range info.Partitions {
		if s.parts[p] == nil {
			s.parts[p] = &part{p: p, epoch: -1}
		}
	}
	return durable, nil
}

// fence finalizes the streams of a partition's latest epoch, so that no
// earlier run (or a late append of one) can add to them, and returns the
// station offset after the last row they hold.
func (s *sink) fence(ctx context.Context, p uint32, pl *partitionLedger) (uint64, error) {
	var next uint64
	for name, base := range pl.streams {
		rows, ok := pl.final[name]
		if !ok {
			n, err := s.finalize(ctx, name)
			switch {
			case errors.Is(err, errStreamGone):
				s.log.Warn("write stream is gone (expired?); reading the partition's last offset from the table", "stream", name, "partition", p)
				end, err := s.lastOffset(ctx, p)
				if err != nil {
					return 0, err
				}
				// Everything below base was resolved before the stream
				// was given out.
				next = max(next, end, base)
				continue
			case err != nil:
				return 0, err
			}
			rows = uint64(n)
			if err := s.ledger.append(ctx, ledgerRow{Partition: p, Kind: ledgerFinal, Stream: name, Count: rows}); err != nil {
				return 0, err
			}
		}
		next = max(next, base+rows+pl.skipped[name])
	}
	return next, nil
}

// errStreamGone says a write stream no longer exists or cannot report its
// row count.
var errStreamGone = errors.New("write stream is gone")

// finalize finalizes the stream name and returns the rows it holds.
func (s *sink) finalize(ctx context.Context, name string) (int64, error) {
	// Looked up here first: the client's own lookup loses the error's
	// status.
	if _, err := s.cl.writer.GetWriteStream(ctx, &storagepb.GetWriteStreamRequest{Name: name}); err != nil {
		return 0, s.streamErr(fmt.Errorf("look up write stream %s: %w", name, err))
	}
	ms, err := s.cl.writer.NewManagedStream(s.life, managedwriter.WithStreamName(name), managedwriter.WithType(managedwriter.CommittedStream))
	if err != nil {
		return 0, s.streamErr(fmt.Errorf("open write stream %s: %w", name, err))
	}
	defer ms.Close()
	n, err := ms.Finalize(ctx)
	if err != nil {
		return 0, s.streamErr(fmt.Errorf("finalize write stream %s: %w", name, err))
	}
	return n, nil
}

// streamErr maps errors about a stream that expired or was finalized
// without its row count known to errStreamGone.
func (s *sink) streamErr(err error) error {
	if se := storageError(err); se != nil {
		switch se.GetCode() {
		case storagepb.StorageError_STREAM_NOT_FOUND, storagepb.StorageError_STREAM_FINALIZED:
			return fmt.Errorf("%w: %v", errStreamGone, err)
		}
	}
	if st, ok := status.FromError(err); ok && st.Code() == codes.NotFound && !strings.Contains(st.Message(), "Table") {
		return fmt.Errorf("%w: %v", errStreamGone, err)
	}
	return classify(err)
}

// lastOffset queries the table for the station offset after the highest
// one the partition holds: a billed query, used only when a stream's row
// count is lost.
func (s *sink) lastOffset(ctx context.Context, p uint32) (uint64, error) {
	stationCol, partCol, offCol := colStation, colPartition, colOffset
	if s.cfg.Mode == "columns" {
		stationCol, partCol, offCol = metaStation, metaPartition, metaOffset
	}
	q := s.cl.bq.Query(fmt.Sprintf("SELECT MAX(`%s`) AS last FROM `%s.%s.%s` WHERE `%s` = @station AND `%s` = @partition",
		offCol, s.cfg.Project, s.cfg.Dataset, s.cfg.Table, stationCol, partCol))
	q.Parameters = []bigquery.QueryParameter{{Name: "station", Value: s.station}, {Name: "partition", Value: int64(p)}}
	it, err := q.Read(ctx)
	if err != nil {
		return 0, classify(fmt.Errorf("query the last offset of partition %d: %w", p, err))
	}
	var row []bigquery.Value
	if err := it.Next(&row); err != nil {
		return 0, classify(fmt.Errorf("query the last offset of partition %d: %w", p, err))
	}
	if len(row) == 0 || row[0] == nil {
		return 0, nil
	}
	last, _ := row[0].(int64)
	return uint64(last) + 1, nil
}

// prepareTable checks the dataset and the table, creating them when
// auto_create is on, and builds the row codec from the table's schema.
func (s *sink) prepareTable(ctx context.Context) error {
	ds := s.cl.bq.Dataset(s.cfg.Dataset)
	if _, err := ds.Metadata(ctx); err != nil {
		if !isNotFound(err) || !s.cfg.AutoCreate {
			if isNotFound(err) {
				return fatalf("dataset %s.%s does not exist (auto_create is false)", s.cfg.Project, s.cfg.Dataset)
			}
			return classify(fmt.Errorf("read dataset %s.%s: %w", s.cfg.Project, s.cfg.Dataset, err))
		}
		if err := ds.Create(ctx, &bigquery.DatasetMetadata{Location: s.cfg.Location}); err != nil && !isConflict(err) {
			return classify(fmt.Errorf("create dataset %s.%s: %w", s.cfg.Project, s.cfg.Dataset, err))
		}
	}
	want := jsonSchema()
	if s.cfg.Mode == "columns" {
		want = metaSchema()
	}
	md, err := s.cl.table.Metadata(ctx)
	if isNotFound(err) {
		if !s.cfg.AutoCreate {
			return fatalf("table %s.%s.%s does not exist (auto_create is false)", s.cfg.Project, s.cfg.Dataset, s.cfg.Table)
		}
		tm := &bigquery.TableMetadata{Schema: append(slices.Clone(want), s.schemaFields(want)...), Description: "Written by Junction connector " + s.name + " from station " + s.station + "."}
		if s.cfg.Partitioning.Type != "NONE" {
			tm.TimePartitioning = &bigquery.TimePartitioning{Type: bigquery.TimePartitioningType(s.cfg.Partitioning.Type), Field: s.cfg.Partitioning.Column}
		}
		if err := s.cl.table.Create(ctx, tm); err != nil && !isConflict(err) {
			return classify(fmt.Errorf("create table %s.%s.%s: %w", s.cfg.Project, s.cfg.Dataset, s.cfg.Table, err))
		}
		md, err = s.cl.table.Metadata(ctx)
	}
	if err != nil {
		return classify(fmt.Errorf("read table %s.%s.%s: %w", s.cfg.Project, s.cfg.Dataset, s.cfg.Table, err))
	}
	if err := checkSchema(md.Schema, want); err != nil {
		return fatalf("table %s.%s.%s does not fit mode %s: %v", s.cfg.Project, s.cfg.Dataset, s.cfg.Table, s.cfg.Mode, err)
	}
	if s.cfg.Mode == "json" {
		for _, f := range md.Schema {
			if f.Required && !slices.ContainsFunc(want, func(w *bigquery.FieldSchema) bool { return strings.EqualFold(w.Name, f.Name) }) {
				return fatalf("table %s.%s.%s does not fit mode json: column %s is REQUIRED, and the sink does not write it", s.cfg.Project, s.cfg.Dataset, s.cfg.Table, f.Name)
			}
		}
	}
	if err := s.useSchema(md); err != nil {
		return err
	}
	if s.cfg.EvolveSchema {
		if add := s.schemaFields(md.Schema); len(add) > 0 {
			cols := make([]newColumn, len(add))
			for i, f := range add {
				cols[i] = newColumn{Name: f.Name, Type: f.Type}
			}
			return s.evolve(ctx, cols)
		}
	}
	return nil
}

func (s *sink) useSchema(md *bigquery.TableMetadata) error {
	codec, err := newRowCodec(s.cfg.Mode, s.station, md.Schema)
	if err != nil {
		return connector.Fatal(fmt.Errorf("table %s: %w", s.cfg.Table, err))
	}
	s.codec, s.etag = codec, md.ETag
	return nil
}

func (s *sink) openDefault() error {
	ms, err := s.cl.writer.NewManagedStream(s.life,
		managedwriter.WithDestinationTable(s.parent),
		managedwriter.WithType(managedwriter.DefaultStream),
		managedwriter.WithSchemaDescriptor(s.codec.desc),
		managedwriter.EnableWriteRetries(true))
	if err != nil {
		return classify(fmt.Errorf("open the _default stream of %s: %w", s.cfg.Table, err))
	}
	s.def = ms
	return nil
}

// item is a record encoded as a row, with its index in the Write call.
type item struct {
	idx    int
	offset uint64
	row    []byte
}

// Write appends the records to the table and returns once they are
// committed. Records that cannot be written (BigQuery's row errors, a
// value that does not fit its column, an oversize row) are reported in a
// *connector.BatchError; the others are in the table.
func (s *sink) Write(ctx context.Context, records []connector.Record) error {
	s.brokenMu.Lock()
	broken := s.broken
	s.brokenMu.Unlock()
	if broken != nil {
		return connector.Retryable(fmt.Errorf("the sink needs reopening after: %w", broken))
	}
	if s.codec == nil {
		return connector.Fatal(errors.New("write before open"))
	}
	failed := make(map[int]error)
	items, err := s.encode(ctx, records, failed)
	if err != nil {
		return err
	}
	if s.cfg.Delivery == "at_least_once" {
		err = s.appendDefault(ctx, items, failed)
	} else {
		err = s.appendExactlyOnce(ctx, records, items, failed)
	}
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		logged := 0
		for i, ferr := range failed {
			if logged == 3 {
				s.log.Warn("more records rejected in this batch", "count", len(failed)-logged)
				break
			}
			s.log.Warn("record rejected; it goes to the dead-letter station", "partition", records[i].Partition, "offset", records[i].Offset, "reason", ferr.Error())
			logged++
		}
		return &connector.BatchError{Failed: failed}
	}
	return nil
}

// encode turns records into rows, evolving the schema first when records
// have fields the table lacks and evolve_schema is on. Records already
// written (exactly_once) are left out.
func (s *sink) encode(ctx context.Context, records []connector.Record, failed map[int]error) ([]item, error) {
	for attempt := 0; ; attempt++ {
		items := make([]item, 0, len(records))
		var missing []newColumn
		seen := make(map[string]bool)
		for i, r := range records {
			if s.parts != nil {
				if pt := s.parts[r.Partition]; pt != nil && r.Offset < pt.next {
					continue
				}
			}
			var row []byte
			var miss []newColumn
			var err error
			if r.Value, err = s.recordJSON(r); err == nil {
				row, miss, err = s.codec.encode(nil, r)
			}
			switch {
			case err != nil:
				failed[i] = err
			case len(miss) > 0:
				if !s.cfg.EvolveSchema || attempt > 0 {
					failed[i] = fmt.Errorf("field %q is not a column of table %s (evolve_schema: true adds it)", miss[0].Name, s.cfg.Table)
					continue
				}
				for _, m := range miss {
					if t, ok := s.schemaType(m.Name); ok {
						m.Type = t
					}
					if !seen[strings.ToLower(m.Name)] {
						seen[strings.ToLower(m.Name)] = true
						missing = append(missing, m)
					}
				}
			case len(row) > int(s.cfg.Append.MaxBytes):
				failed[i] = fmt.Errorf("the row takes %d bytes, more than append.max_bytes (%d) allows in one request", len(row), s.cfg.Append.MaxBytes)
			default:
				items = append(items, item{idx: i, offset: r.Offset, row: row})
			}
		}
		if len(missing) == 0 {
			return items, nil
		}
		if err := s.evolve(ctx, missing); err != nil {
			return nil, err
		}
		clear(failed)
	}
}

// evolve adds NULLABLE columns to the table and makes later appends use
// the new schema: streams opened with the old one are finalized (their
// rows are known), so the next append opens new ones.
func (s *sink) evolve(ctx context.Context, cols []newColumn) error {
	for try := 0; ; try++ {
		md, err := s.cl.table.Metadata(ctx)
		if err != nil {
			return classify(fmt.Errorf("read table %s: %w", s.cfg.Table, err))
		}
		schema := append(bigquery.Schema(nil), md.Schema...)
		have := make(map[string]bool)
		for _, f := range schema {
			have[strings.ToLower(f.Name)] = true
		}
		for _, c := range cols {
			if !have[strings.ToLower(c.Name)] {
				schema = append(schema, &bigquery.FieldSchema{Name: c.Name, Type: c.Type})
			}
		}
		md, err = s.cl.table.Update(ctx, bigquery.TableMetadataToUpdate{Schema: schema}, md.ETag)
		var gerr *googleapi.Error
		if errors.As(err, &gerr) && gerr.Code == http.StatusPreconditionFailed && try < 3 {
			continue // changed meanwhile: read it again
		}
		if err != nil {
			return classify(fmt.Errorf("add columns to table %s: %w", s.cfg.Table, err))
		}
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.Name + " " + string(c.Type)
		}
		s.log.Info("added columns to the table", "table", s.cfg.Table, "columns", strings.Join(names, ", "))
		if err := s.useSchema(md); err != nil {
			return err
		}
		break
	}
	if s.def != nil {
		_ = s.def.Close()
		s.def = nil
		return s.openDefault()
	}
	for _, pt := range s.parts {
		if err := s.retire(ctx, pt); err != nil {
			return err
		}
	}
	return nil
}

// retire finalizes a partition's stream and records its row count.
func (s *sink) retire(ctx context.Context, pt *part) error {
	if pt.ms == nil {
		return nil
	}
	ms := pt.ms
	pt.ms = nil
	defer ms.Close()
	n, err := ms.Finalize(ctx)
	if err != nil {
		return classify(fmt.Errorf("finalize write stream %s: %w", ms.StreamName(), err))
	}
	if n != pt.rows {
		return fatalf("write stream %s holds %d rows, but this sink appended %d: another writer used it", ms.StreamName(), n, pt.rows)
	}
	return s.ledger.append(ctx, ledgerRow{Partition: pt.p, Kind: ledgerFinal, Stream: ms.StreamName(), Count: uint64(n)})
}

// chunk returns how many of items (from the first) go into one request.
// With contiguous set, only items with consecutive offsets.
func (s *sink) chunk(items []item, contiguous bool) int {
	size := 0
	for i, it := range items {
		if i == s.cfg.Append.MaxRows || i > 0 && size+len(it.row) > int(s.cfg.Append.MaxBytes) ||
			contiguous && i > 0 && it.offset != items[0].offset+uint64(i) {
			return i
		}
		size += len(it.row) + 8
	}
	return len(items)
}

func rows(items []item) [][]byte {
	out := make([][]byte, len(items))
	for i, it := range items {
		out[i] = it.row
	}
	return out
}

// rowErrors returns the row errors of an append response by index in the
// request, or nil.
func rowErrors(resp *storagepb.AppendRowsResponse) map[int]error {
	if len(resp.GetRowErrors()) == 0 {
		return nil
	}
	out := make(map[int]error)
	for _, re := range resp.GetRowErrors() {
		out[int(re.GetIndex())] = fmt.Errorf("BigQuery rejected the row: %s", re.GetMessage())
	}
	return out
}

// appendDefault writes items through the _default stream, all requests
// in flight at once. A request with row errors appends none of its rows:
// the rejected ones go to failed and the rest are sent again.
func (s *sink) appendDefault(ctx context.Context, items []item, failed map[int]error) error {
	for len(items) > 0 {
		type sent struct {
			items []item
			res   *managedwriter.AppendResult
		}
		var inflight []sent
		for rest := items; len(rest) > 0; {
			n := s.chunk(rest, false)
			res, err := s.def.AppendRows(ctx, rows(rest[:n]))
			if err != nil {
				return classify(fmt.Errorf("append to %s: %w", s.cfg.Table, err))
			}
			inflight = append(inflight, sent{rest[:n], res})
			rest = rest[n:]
		}
		var again []item
		var firstErr error
		for _, sn := range inflight {
			resp, err := sn.res.FullResponse(ctx)
			if bad := rowErrors(resp); bad != nil {
				again = append(again, s.dropRejected(sn.items, len(sn.items), bad, failed)...)
				continue
			}
			if err != nil && firstErr == nil {
				firstErr = classify(fmt.Errorf("append to %s: %w", s.cfg.Table, err))
			}
		}
		if firstErr != nil {
			return firstErr
		}
		items = again
	}
	return nil
}

// dropRejected moves the rejected rows of the first n items into failed
// and returns the items without them.
func (s *sink) dropRejected(items []item, n int, bad map[int]error, failed map[int]error) []item {
	kept := make([]item, 0, len(items))
	for i, it := range items {
		if err, ok := bad[i]; ok && i < n {
			failed[it.idx] = err
			continue
		}
		kept = append(kept, it)
	}
	if len(kept) == len(items) {
		// Row errors naming no row of the request: reject the first so
		// that the loop ends.
		failed[items[0].idx] = errors.New("BigQuery rejected the request's rows without naming one")
		kept = kept[1:]
	}
	return kept
}

// appendExactlyOnce writes each partition's items to its own stream, the
// partitions at the same time.
func (s *sink) appendExactlyOnce(ctx context.Context, records []connector.Record, items []item, failed map[int]error) error {
	byPart := make(map[uint32][]item)
	for _, it := range items {
		p := records[it.idx].Partition
		byPart[p] = append(byPart[p], it)
	}
	pts := make([]*part, 0, len(byPart))
	for p := range byPart {
		if s.parts[p] == nil {
			s.parts[p] = &part{p: p, epoch: -1}
		}
		pts = append(pts, s.parts[p])
	}
	if err := s.ensureStreams(ctx, pts); err != nil {
		return err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, 0)
	for p, its := range byPart {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := make(map[int]error)
			err := s.appendPartition(ctx, s.parts[p], its, f)
			mu.Lock()
			defer mu.Unlock()
			for i, e := range f {
				failed[i] = e
			}
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// appendPartition appends one partition's items, in offset order, to its
// stream at the stream offsets that match. Offsets with no row (rejected
// records, gaps in the station) are recorded as skipped in the ledger
// before any row after them is appended, which keeps "station offset
// after the stream's last row = base + rows + skipped" true.
func (s *sink) appendPartition(ctx context.Context, pt *part, items []item, failed map[int]error) error {
	for len(items) > 0 {
		if items[0].offset < pt.next {
			items = items[1:] // a duplicate within the batch
			continue
		}
		first := items[0].offset
		if pt.ms == nil {
			return errors.New("no write stream") // ensureStreams gave one
		}
		if first > pt.next {
			err := s.ledger.append(ctx, ledgerRow{Partition: pt.p, Kind: ledgerSkip, Stream: pt.ms.StreamName(), Offset: pt.next, Count: first - pt.next})
			if err != nil {
				return err
			}
			pt.next = first
		}
		n := s.chunk(items, true)
		res, err := pt.ms.AppendRows(ctx, rows(items[:n]), managedwriter.WithOffset(pt.rows))
		if err != nil {
			return s.lost(pt, fmt.Errorf("append to %s: %w", pt.ms.StreamName(), err))
		}
		resp, err := res.FullResponse(ctx)
		if bad := rowErrors(resp); bad != nil {
			items = s.dropRejected(items, n, bad, failed)
			continue
		}
		if err != nil {
			se := storageError(err)
			// An append the client retried after it had landed: the rows
			// are there, at exactly this offset.
			if se == nil || se.GetCode() != storagepb.StorageError_OFFSET_ALREADY_EXISTS {
				return s.lost(pt, fmt.Errorf("append to %s: %w", pt.ms.StreamName(), err))
			}
		}
		pt.rows += int64(n)
		pt.next = items[n-1].offset + 1
		items = items[n:]
	}
	return nil
}

// lost gives up a partition's stream after an append whose outcome is
// unknown: the error makes the host restart the sink, whose Open
// finalizes the stream and learns exactly what it holds.
func (s *sink) lost(pt *part, err error) error {
	if pt.ms != nil {
		_ = pt.ms.Close()
		pt.ms = nil
	}
	s.brokenMu.Lock()
	s.broken = err
	s.brokenMu.Unlock()
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return connector.Retryable(err)
	}
	if se := storageError(err); se != nil {
		return connector.Retryable(fmt.Errorf("%w (the sink reopens to resolve it)", err))
	}
	return classify(err)
}

// ensureStreams gives each of pts that has none a new COMMITTED stream:
// it creates the streams, records them in the ledger under each
// partition's next epoch, and reads the ledger back to check that no
// other instance recorded a stream for those epochs (or later ones)
// meanwhile; if one did, this instance gives them all up, so that two
// instances may both give up but never both write.
func (s *sink) ensureStreams(ctx context.Context, pts []*part) error {
	var need []*part
	for _, pt := range pts {
		if pt.ms == nil {
			need = append(need, pt)
		}
	}
	if len(need) == 0 {
		return nil
	}
	streams := make([]*managedwriter.ManagedStream, len(need))
	errs := make([]error, len(need))
	var wg sync.WaitGroup
	for i := range need {
		wg.Go(func() { streams[i], errs[i] = s.newStream(ctx) })
	}
	wg.Wait()
	closeAll := func() {
		for _, ms := range streams {
			if ms != nil {
				_ = ms.Close()
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		closeAll()
		return err
	}
	rows := make([]ledgerRow, len(need))
	for i, pt := range need {
		rows[i] = ledgerRow{Partition: pt.p, Kind: ledgerStream, Stream: streams[i].StreamName(), Epoch: pt.epoch + 1, Base: pt.next}
	}
	if err := s.ledger.append(ctx, rows...); err != nil {
		closeAll()
		return err
	}
	known, err := s.ledger.load(ctx)
	if err != nil {
		closeAll()
		return err
	}
	var raced []uint32
	for i, pt := range need {
		pl := known[pt.p]
		if pl == nil || pl.epoch != pt.epoch+1 || len(pl.streams) != 1 || !hasStream(pl, streams[i].StreamName(), pt.next) {
			raced = append(raced, pt.p)
		}
	}
	if len(raced) > 0 {
		// Fenced and recorded as empty, so no Open needs to look at them.
		var finals []ledgerRow
		for i, pt := range need {
			if n, err := streams[i].Finalize(ctx); err == nil && n == 0 {
				finals = append(finals, ledgerRow{Partition: pt.p, Kind: ledgerFinal, Stream: streams[i].StreamName()})
			}
		}
		if len(finals) > 0 {
			_ = s.ledger.append(ctx, finals...)
		}
		closeAll()
		return connector.Retryable(fmt.Errorf("another instance of connector %s recorded write streams for partitions %v at the same time; reopening", s.name, raced))
	}
	for i, pt := range need {
		pt.ms, pt.epoch, pt.base, pt.rows = streams[i], pt.epoch+1, pt.next, 0
	}
	return nil
}

// newStream creates a COMMITTED stream on the table and opens it.
func (s *sink) newStream(ctx context.Context) (*managedwriter.ManagedStream, error) {
	ws, err := s.cl.writer.CreateWriteStream(ctx, &storagepb.CreateWriteStreamRequest{
		Parent: s.parent, WriteStream: &storagepb.WriteStream{Type: storagepb.WriteStream_COMMITTED},
	})
	if err != nil {
		return nil, classify(fmt.Errorf("create a write stream on %s: %w", s.cfg.Table, err))
	}
	ms, err := s.cl.writer.NewManagedStream(s.life,
		managedwriter.WithStreamName(ws.GetName()),
		managedwriter.WithType(managedwriter.CommittedStream),
		managedwriter.WithSchemaDescriptor(s.codec.desc),
		managedwriter.EnableWriteRetries(true))
	if err != nil {
		return nil, classify(fmt.Errorf("open write stream %s: %w", ws.GetName(), err))
	}
	return ms, nil
}

// Teardown finalizes the streams and records their row counts, so that
// the next Open needs no call to learn them, and closes the clients.
func (s *sink) Teardown(ctx context.Context) error {
	if s.stopLife != nil {
		defer s.stopLife()
	}
	if s.cl == nil {
		return nil
	}
	defer s.cl.close()
	defer s.ledger.close()
	var errs []error
	if s.broken == nil {
		for _, pt := range s.parts {
			if err := s.retire(ctx, pt); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, pt := range s.parts {
		if pt.ms != nil {
			_ = pt.ms.Close()
		}
	}
	if s.def != nil {
		_ = s.def.Close()
	}
	return errors.Join(errs...)
}
