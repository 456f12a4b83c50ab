package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"cloud.google.com/go/bigquery/storage/managedwriter"
	"google.golang.org/api/iterator"
)

// Kinds of ledger rows.
const (
	ledgerStream = "stream" // a write stream a partition was given: epoch, stream, base
	ledgerSkip   = "skip"   // station offsets [offset, offset+count) not in stream
	ledgerFinal  = "final"  // stream was finalized holding count rows
)

// ledgerSchema is the schema of the streams table, where an exactly-once
// sink records its write streams; see the package doc.
func ledgerSchema() bigquery.Schema {
	return bigquery.Schema{
		{Name: "connector", Type: bigquery.StringFieldType, Required: true},
		{Name: "station", Type: bigquery.StringFieldType, Required: true},
		{Name: "partition", Type: bigquery.IntegerFieldType, Required: true},
		{Name: "kind", Type: bigquery.StringFieldType, Required: true},
		{Name: "stream", Type: bigquery.StringFieldType, Required: true},
		{Name: "epoch", Type: bigquery.IntegerFieldType},
		{Name: "base", Type: bigquery.IntegerFieldType},
		{Name: "offset", Type: bigquery.IntegerFieldType},
		{Name: "count", Type: bigquery.IntegerFieldType},
		{Name: "created", Type: bigquery.TimestampFieldType, Required: true},
	}
}

// ledgerRow is one row of the streams table.
type ledgerRow struct {
	Partition uint32
	Kind      string
	Stream    string
	Epoch     int64
	Base      uint64
	Offset    uint64
	Count     uint64
}

// ledger reads and appends the rows of one connector and station in the
// streams table. Appends go through the table's _default stream and are
// durable when append returns; a row may land twice after a retry, which
// readers tolerate (rows are facts, not counters).
type ledger struct {
	client    *bigquery.Client
	table     *bigquery.Table
	connector string
	station   string
	ms        *managedwriter.ManagedStream
	codec     *rowCodec
}

func openLedger(ctx, life context.Context, cl *clients, dataset *bigquery.Dataset, name, connectorName, station string) (*ledger, error) {
	t := dataset.Table(name)
	md, err := t.Metadata(ctx)
	switch {
	case isNotFound(err):
		err = t.Create(ctx, &bigquery.TableMetadata{
			Schema:      ledgerSchema(),
			Description: "Write streams of Junction's exactly-once BigQuery sinks. Do not edit: deleting rows makes sinks write records again.",
		})
		if err != nil && !isConflict(err) {
			return nil, classify(fmt.Errorf("create streams table %s: %w", name, err))
		}
	case err != nil:
		return nil, classify(fmt.Errorf("read streams table %s: %w", name, err))
	default:
		if err := checkSchema(md.Schema, ledgerSchema()); err != nil {
			return nil, fatalf("streams table %s does not have the schema the sink needs: %v", name, err)
		}
	}
	codec, err := newRowCodec("ledger", station, ledgerSchema())
	if err != nil {
		return nil, err
	}
	ms, err := cl.writer.NewManagedStream(life,
		managedwriter.WithDestinationTable(managedwriter.TableParentFromParts(t.ProjectID, t.DatasetID, t.TableID)),
		managedwriter.WithType(managedwriter.DefaultStream),
		managedwriter.WithSchemaDescriptor(codec.desc),
		managedwriter.EnableWriteRetries(true))
	if err != nil {
		return nil, classify(fmt.Errorf("open the _default stream of %s: %w", name, err))
	}
	return &ledger{client: cl.bq, table: t, connector: connectorName, station: station, ms: ms, codec: codec}, nil
}

func (l *ledger) close() {
	if l != nil && l.ms != nil {
		_ = l.ms.Close()
	}
}

// append writes rows and returns once they are durable.
func (l *ledger) append(ctx context.Context, rows ...ledgerRow) error {
	data := make([][]byte, len(rows))
	now := time.Now().UnixMicro()
	for i, r := range rows {
		c := l.codec
		var b []byte
		b = c.appendString(b, "connector", l.connector)
		b = c.appendString(b, "station", l.station)
		b = c.appendInt(b, "partition", int64(r.Partition))
		b = c.appendString(b, "kind", r.Kind)
		b = c.appendString(b, "stream", r.Stream)
		b = c.appendInt(b, "epoch", r.Epoch)
		b = c.appendInt(b, "base", int64(r.Base))
		b = c.appendInt(b, "offset", int64(r.Offset))
		b = c.appendInt(b, "count", int64(r.Count))
		b = c.appendInt(b, "created", now)
		data[i] = b
	}
	res, err := l.ms.AppendRows(ctx, data)
	if err == nil {
		var resp *storagepb.AppendRowsResponse
		resp, err = res.FullResponse(ctx)
		if len(resp.GetRowErrors()) > 0 {
			err = errors.New(resp.GetRowErrors()[0].GetMessage())
		}
	}
	if err != nil {
		return classify(fmt.Errorf("record write streams in %s: %w", l.table.TableID, err))
	}
	return nil
}

// partitionLedger is what the ledger says about one partition.
type partitionLedger struct {
	epoch int64
	// streams of the highest epoch, by name, with their base.
	streams map[string]uint64
	// skipped counts the station offsets skipped per stream.
	skipped map[string]uint64
	// final holds the row count of finalized streams.
	final map[string]uint64
}

// load reads the ledger rows of this connector and station, by
// partition.
func (l *ledger) load(ctx context.Context) (map[uint32]*partitionLedger, error) {
	out := make(map[uint32]*partitionLedger)
	type skipKey struct {
		stream string
		offset uint64
	}
	skips := make(map[skipKey]uint64)
	skipPart := make(map[skipKey]uint32)
	// A query, not tabledata.list: queries are documented to see rows the
	// moment their append is acknowledged, which the claim check needs.
	q := l.client.Query(fmt.Sprintf("SELECT `connector`, `station`, `partition`, `kind`, `stream`, `epoch`, `base`, `offset`, `count` FROM `%s.%s.%s` WHERE `connector` = @connector AND `station` = @station",
		l.table.ProjectID, l.table.DatasetID, l.table.TableID))
	q.Parameters = []bigquery.QueryParameter{{Name: "connector", Value: l.connector}, {Name: "station", Value: l.station}}
	it, err := q.Read(ctx)
	if err != nil {
		return nil, classify(fmt.Errorf("read streams table %s: %w", l.table.TableID, err))
	}
	for {
		var row map[string]bigquery.Value
		err := it.Next((*valueMap)(&row))
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, classify(fmt.Errorf("read streams table %s: %w", l.table.TableID, err))
		}
		p := uint32(num(row["partition"]))
		pl := out[p]
		if pl == nil {
			pl = &partitionLedger{epoch: -1, streams: map[string]uint64{}, skipped: map[string]uint64{}, final: map[string]uint64{}}
			out[p] = pl
		}
		stream := str(row["stream"])
		switch str(row["kind"]) {
		case ledgerStream:
			e := num(row["epoch"])
			if e > pl.epoch {
				pl.epoch = e
				clear(pl.streams)
			}
			if e == pl.epoch {
				pl.streams[stream] = uint64(num(row["base"]))
			}
		case ledgerSkip:
			k := skipKey{stream, uint64(num(row["offset"]))}
			skips[k] = max(skips[k], uint64(num(row["count"])))
			skipPart[k] = p
		case ledgerFinal:
			pl.final[stream] = uint64(num(row["count"]))
		}
	}
	for k, n := range skips {
		out[skipPart[k]].skipped[k.stream] += n
	}
	return out, nil
}

// valueMap loads a row as a map, without the client's schema caching
// that bigquery's own map loader does.
type valueMap map[string]bigquery.Value

func (m *valueMap) Load(v []bigquery.Value, s bigquery.Schema) error {
	*m = make(valueMap, len(v))
	for i, f := range s {
		if i < len(v) {
			(*m)[f.Name] = v[i]
		}
	}
	return nil
}

func str(v bigquery.Value) string {
	s, _ := v.(string)
	return s
}

func num(v bigquery.Value) int64 {
	n, _ := v.(int64)
	return n
}
