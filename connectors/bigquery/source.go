package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/api/iterator"

	"github.com/junctionhq/junction/sdk/connector"
)

// SourceConfig configures the BigQuery source.
type SourceConfig struct {
	conn

	OrderingColumn     string         `json:"ordering_column" connector:"required" doc:"Column whose values only grow as rows are added, such as an id or an ingestion timestamp (INTEGER, FLOAT, STRING, TIMESTAMP, DATE or DATETIME). Rows are read in its order; the position is the last value read."`
	Query              string         `json:"query" doc:"Custom query to read instead of the whole table. It must return ordering_column, keep only rows past @position and order by it ascending, such as: SELECT * FROM my_dataset.events WHERE (@position IS NULL OR id > @position) ORDER BY id. @position is a query parameter of the column's type (NULL on the first poll), never spliced into the SQL."`
	ValueColumn        string         `json:"value_column" doc:"Column whose content becomes the record value (BYTES as is, STRING as its text, other types as JSON); empty: the whole row as one JSON object."`
	PageSize           int            `json:"page_size" default:"1000" doc:"Rows per page fetched and per batch handed to the station; rows sharing an ordering value stay in one batch."`
	PollInterval       time.Duration  `json:"poll_interval" default:"30s" doc:"Wait between queries once a query's rows are all read. Every poll is a billed query."`
	MaximumBytesBilled connector.Size `json:"maximum_bytes_billed" default:"10GiB" doc:"Upper limit of bytes billed per poll query; a query that would bill more fails. 0: the project's default."`
	PartitionLookback  time.Duration  `json:"partition_lookback" default:"0s" doc:"On a time-partitioned table, read only partitions newer than this (a partition filter that keeps each poll from scanning the whole table; rows older than it are never read). 0: no partition filter. When ordering_column is the partitioning column, its filter already prunes partitions."`
}

// Validate checks the fields against each other.
func (c SourceConfig) Validate() error {
	errs := c.conn.validate()
	if c.OrderingColumn != "" && !columnNameRE.MatchString(c.OrderingColumn) {
		errs = append(errs, connector.FieldError{Field: "ordering_column", Message: "must be a column name: letters, digits and underscores"})
	}
	if c.ValueColumn != "" && !columnNameRE.MatchString(c.ValueColumn) {
		errs = append(errs, connector.FieldError{Field: "value_column", Message: "must be a column name: letters, digits and underscores"})
	}
	if c.Query != "" && !strings.Contains(c.Query, "@position") {
		errs = append(errs, connector.FieldError{Field: "query", Message: "must use the @position parameter to keep only rows past the last one read"})
	}
	if c.PageSize < 1 || c.PageSize > 100000 {
		errs = append(errs, connector.FieldError{Field: "page_size", Message: "must be between 1 and 100000"})
	}
	if c.PollInterval <= 0 {
		errs = append(errs, connector.FieldError{Field: "poll_interval", Message: "must be positive: every poll is a billed query"})
	}
	if c.MaximumBytesBilled < 0 {
		errs = append(errs, connector.FieldError{Field: "maximum_bytes_billed", Message: "must not be negative"})
	}
	if c.PartitionLookback < 0 {
		errs = append(errs, connector.FieldError{Field: "partition_lookback", Message: "must not be negative"})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// position is a source checkpoint: the text form of the last ordering
// value read (absent before the first row).
type position struct {
	Value *string `json:"v,omitempty"`
}

// decodePosition parses a checkpoint; nil or empty is the beginning.
func decodePosition(b connector.Position) (position, error) {
	var p position
	if len(b) == 0 {
		return p, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("position %q is not one this source wrote: %w", clip(b), err)
	}
	return p, nil
}

// maxTieRows bounds the rows sharing one ordering value that a batch may
// hold, in page sizes.
const maxTieRows = 10

// source polls a table or query for rows past its position.
type source struct {
	connector.UnimplementedSource
	cfg    SourceConfig
	cl     *clients
	colTyp bigquery.FieldType
	sql    string
	pos    position

	// life outlives calls: the running query's iterator fetches its pages
	// with iterCtx, derived from it, and a Read whose ctx ends cancels
	// iterCtx, dropping the query (the next Read polls again from pos).
	life       context.Context
	stopLife   context.CancelFunc
	iterCancel context.CancelFunc

	it       *bigquery.RowIterator
	schema   bigquery.Schema
	peek     []bigquery.Value // next row, read ahead to find value changes
	lastPoll time.Time
}

func newSource(cfg SourceConfig) (connector.Source, error) {
	return &source{cfg: cfg}, nil
}

// Open connects, reads the table's schema for the ordering column's type
// and builds the poll query.
func (s *source) Open(ctx context.Context, pos connector.Position) error {
	p, err := decodePosition(pos)
	if err != nil {
		return connector.Fatal(err)
	}
	s.pos = p
	s.life, s.stopLife = context.WithCancel(context.WithoutCancel(ctx))
	s.cl, err = newClients(s.life, s.cfg.conn, false)
	if err != nil {
		return err
	}
	md, err := s.cl.table.Metadata(ctx)
	if err != nil {
		if isNotFound(err) {
			return fatalf("table %s.%s.%s does not exist", s.cfg.Project, s.cfg.Dataset, s.cfg.Table)
		}
		return classify(fmt.Errorf("read table %s.%s.%s: %w", s.cfg.Project, s.cfg.Dataset, s.cfg.Table, err))
	}
	for _, f := range md.Schema {
		if strings.EqualFold(f.Name, s.cfg.OrderingColumn) {
			s.colTyp = normType(f.Type)
		}
	}
	switch s.colTyp {
	case bigquery.IntegerFieldType, bigquery.FloatFieldType, bigquery.StringFieldType, bigquery.TimestampFieldType, bigquery.DateFieldType, bigquery.DateTimeFieldType:
	case "":
		return fatalf("ordering_column %s is not a column of table %s", s.cfg.OrderingColumn, s.cfg.Table)
	default:
		return fatalf("ordering_column %s has type %s; want INTEGER, FLOAT, STRING, TIMESTAMP, DATE or DATETIME", s.cfg.OrderingColumn, s.colTyp)
	}
	if p.Value != nil {
		if _, err := s.param(); err != nil {
			return connector.Fatal(err)
		}
	}
	s.sql = s.cfg.Query
	if s.sql == "" {
		s.sql = fmt.Sprintf("SELECT * FROM `%s.%s.%s` WHERE (@position IS NULL OR `%s` > @position)%s ORDER BY `%s`",
			s.cfg.Project, s.cfg.Dataset, s.cfg.Table, s.cfg.OrderingColumn, s.partitionFilter(md), s.cfg.OrderingColumn)
	}
	return nil
}

// partitionFilter is the SQL condition that limits a poll to recent
// partitions, or "".
func (s *source) partitionFilter(md *bigquery.TableMetadata) string {
	tp := md.TimePartitioning
	if s.cfg.PartitionLookback <= 0 || tp == nil {
		return ""
	}
	secs := int64(s.cfg.PartitionLookback / time.Second)
	if tp.Field == "" {
		return fmt.Sprintf(" AND _PARTITIONTIME >= TIMESTAMP_SUB(TIMESTAMP_TRUNC(CURRENT_TIMESTAMP(), DAY), INTERVAL %d SECOND)", secs)
	}
	for _, f := range md.Schema {
		if f.Name == tp.Field && f.Type == bigquery.DateFieldType {
			return fmt.Sprintf(" AND `%s` >= DATE_SUB(CURRENT_DATE(), INTERVAL %d DAY)", tp.Field, (secs+86399)/86400)
		}
	}
	return fmt.Sprintf(" AND `%s` >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL %d SECOND)", tp.Field, secs)
}

// param is the @position parameter value: the position in the ordering
// column's type, or a NULL of that type.
func (s *source) param() (any, error) {
	if s.pos.Value == nil {
		switch s.colTyp {
		case bigquery.IntegerFieldType:
			return bigquery.NullInt64{}, nil
		case bigquery.FloatFieldType:
			return bigquery.NullFloat64{}, nil
		case bigquery.TimestampFieldType:
			return bigquery.NullTimestamp{}, nil
		case bigquery.DateFieldType:
			return bigquery.NullDate{}, nil
		case bigquery.DateTimeFieldType:
			return bigquery.NullDateTime{}, nil
		}
		return bigquery.NullString{}, nil
	}
	v := *s.pos.Value
	var out any
	var err error
	switch s.colTyp {
	case bigquery.IntegerFieldType:
		out, err = strconv.ParseInt(v, 10, 64)
	case bigquery.FloatFieldType:
		out, err = strconv.ParseFloat(v, 64)
	case bigquery.TimestampFieldType:
		out, err = time.Parse(time.RFC3339Nano, v)
	case bigquery.DateFieldType:
		out, err = civil.ParseDate(v)
	case bigquery.DateTimeFieldType:
		out, err = civil.ParseDateTime(v)
	default:
		out = v
	}
	if err != nil {
		return nil, fmt.Errorf("position %q is not a %s: %w", v, s.colTyp, err)
	}
	return out, nil
}

// orderText is the text form of an ordering value, as kept in positions.
func orderText(v bigquery.Value) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case civil.Date:
		return x.String()
	case civil.DateTime:
		return x.String()
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// poll runs the query for rows past the position.
func (s *source) poll(ctx context.Context) error {
	param, err := s.param()
	if err != nil {
		return connector.Fatal(err)
	}
	q := s.cl.bq.Query(s.sql)
	q.Parameters = []bigquery.QueryParameter{{Name: "position", Value: param}}
	q.MaxBytesBilled = int64(s.cfg.MaximumBytesBilled)
	if s.cfg.Location != "" {
		q.Location = s.cfg.Location
	}
	iterCtx, cancel := context.WithCancel(s.life)
	stop := context.AfterFunc(ctx, cancel)
	it, err := q.Read(iterCtx)
	stop()
	if err != nil {
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return classify(fmt.Errorf("poll query on %s: %w", s.cfg.Table, err))
	}
	it.PageInfo().MaxSize = s.cfg.PageSize
	s.it, s.schema, s.peek, s.iterCancel = it, nil, nil, cancel
	s.lastPoll = time.Now()
	return nil
}

// next returns the next row of the running query, or nil at its end.
func (s *source) next() ([]bigquery.Value, error) {
	if s.peek != nil {
		row := s.peek
		s.peek = nil
		return row, nil
	}
	var row []bigquery.Value
	err := s.it.Next(&row)
	if errors.Is(err, iterator.Done) {
		return nil, nil
	}
	if err != nil {
		return nil, classify(fmt.Errorf("read query results of %s: %w", s.cfg.Table, err))
	}
	if s.schema == nil {
		s.schema = s.it.Schema
	}
	return row, nil
}

// Read returns the next page of rows past the position, polling when the
// last query is read out. A batch never splits rows that share an
// ordering value, so a position never falls inside such a group.
func (s *source) Read(ctx context.Context) (connector.Batch, error) {
	b, err := s.read(ctx)
	if err != nil {
		// Rows taken from the query and not returned are read again by
		// the next poll, which starts from the position.
		s.drop()
		if ctx.Err() != nil {
			return connector.Batch{}, ctx.Err()
		}
	}
	return b, err
}

// drop forgets the running query.
func (s *source) drop() {
	if s.iterCancel != nil {
		s.iterCancel()
		s.iterCancel = nil
	}
	s.it, s.peek = nil, nil
}

func (s *source) read(ctx context.Context) (connector.Batch, error) {
	for {
		if s.it == nil {
			if wait := time.Until(s.lastPoll.Add(s.cfg.PollInterval)); !s.lastPoll.IsZero() && wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return connector.Batch{}, ctx.Err()
				case <-t.C:
				}
			}
			if err := s.poll(ctx); err != nil {
				return connector.Batch{}, err
			}
		}
		stop := context.AfterFunc(ctx, s.iterCancel)
		b, err := s.page(ctx)
		stop()
		if err != nil {
			return connector.Batch{}, err
		}
		if len(b.Records) > 0 {
			return b, nil
		}
		s.drop()
	}
}

func (s *source) page(ctx context.Context) (connector.Batch, error) {
	var b connector.Batch
	var last string
	tie := 0
	for {
		if err := ctx.Err(); err != nil {
			return b, err
		}
		row, err := s.next()
		if err != nil {
			return b, err
		}
		if row == nil {
			s.drop()
			break
		}
		idx := s.orderIndex()
		if idx < 0 {
			return b, fatalf("the query's rows have no column %s (ordering_column)", s.cfg.OrderingColumn)
		}
		if row[idx] == nil {
			return b, fatalf("a row has NULL in ordering_column %s, which would be read again forever; filter NULLs out in the query", s.cfg.OrderingColumn)
		}
		val := orderText(row[idx])
		if len(b.Records) >= s.cfg.PageSize && val != last {
			s.peek = row
			break
		}
		if val == last {
			tie++
		} else {
			tie = 0
		}
		if tie >= maxTieRows*s.cfg.PageSize {
			return b, fatalf("more than %d rows share the ordering value %s; raise page_size", tie, val)
		}
		value, err := s.value(row)
		if err != nil {
			return b, connector.Fatal(fmt.Errorf("encode a row of %s as JSON: %w", s.cfg.Table, err))
		}
		b.Records = append(b.Records, connector.Record{
			Key:   []byte(val),
			Value: value,
			ID:    s.cfg.Table + "/" + val + "#" + strconv.Itoa(tie),
		})
		last = val
	}
	if len(b.Records) > 0 {
		s.pos = position{Value: &last}
		b.Position, _ = json.Marshal(s.pos)
	}
	return b, nil
}

func (s *source) orderIndex() int { return s.column(s.cfg.OrderingColumn) }

func (s *source) column(name string) int {
	for i, f := range s.schema {
		if strings.EqualFold(f.Name, name) {
			return i
		}
	}
	return -1
}

// value is the record value for a row: the row as JSON, or the content of
// value_column.
func (s *source) value(row []bigquery.Value) ([]byte, error) {
	if s.cfg.ValueColumn == "" {
		return rowJSON(row, s.schema)
	}
	i := s.column(s.cfg.ValueColumn)
	if i < 0 {
		return nil, fmt.Errorf("the query's rows have no column %s (value_column)", s.cfg.ValueColumn)
	}
	switch v := row[i].(type) {
	case nil:
		return nil, nil
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	}
	var buf bytes.Buffer
	err := writeValue(&buf, row[i], s.schema[i])
	return buf.Bytes(), err
}

// rowJSON renders a row as a JSON object, columns in schema order.
func rowJSON(row []bigquery.Value, schema bigquery.Schema) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeRecord(&buf, row, schema); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeRecord(buf *bytes.Buffer, row []bigquery.Value, schema bigquery.Schema) error {
	buf.WriteByte('{')
	for i, f := range schema {
		if i > 0 {
			buf.WriteByte(',')
		}
		name, _ := json.Marshal(f.Name)
		buf.Write(name)
		buf.WriteByte(':')
		var v bigquery.Value
		if i < len(row) {
			v = row[i]
		}
		if err := writeValue(buf, v, f); err != nil {
			return fmt.Errorf("column %s: %w", f.Name, err)
		}
	}
	buf.WriteByte('}')
	return nil
}

func writeValue(buf *bytes.Buffer, v bigquery.Value, f *bigquery.FieldSchema) error {
	if list, ok := v.([]bigquery.Value); ok && f.Repeated {
		buf.WriteByte('[')
		elem := *f
		elem.Repeated = false
		for i, e := range list {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeValue(buf, e, &elem); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	}
	var out any
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
		return nil
	case []bigquery.Value:
		return writeRecord(buf, x, f.Schema)
	case time.Time:
		out = x.UTC().Format(time.RFC3339Nano)
	case civil.Date, civil.Time, civil.DateTime:
		out = fmt.Sprint(x)
	case *big.Rat:
		out = x.FloatString(9)
	case []byte:
		out = base64.StdEncoding.EncodeToString(x)
	case string:
		if normType(f.Type) == bigquery.JSONFieldType && json.Valid([]byte(x)) {
			buf.WriteString(x)
			return nil
		}
		out = x
	default:
		out = x
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	buf.Write(b)
	return nil
}

// Teardown closes the clients.
func (s *source) Teardown(context.Context) error {
	s.drop()
	if s.stopLife != nil {
		s.stopLife()
	}
	if s.cl != nil {
		s.cl.close()
	}
	return nil
}
