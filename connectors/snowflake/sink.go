package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/schemacols"
)

// SinkConfig configures the Snowflake sink.
type SinkConfig struct {
	account

	Table        string         `json:"table" connector:"required" doc:"Table the records go to."`
	Mode         string         `json:"mode" default:"variant" allowed:"variant,columns" doc:"variant: the layout of Snowflake's Kafka connector, RECORD_METADATA VARIANT (station, partition, offset, timestamp, key, headers) and RECORD_CONTENT VARIANT (the value: JSON as JSON, text as a string, binary as base64). columns: each top-level field of a JSON object value goes to the column of the same name (case-insensitive); other columns are left NULL."`
	AutoCreate   bool           `json:"auto_create" default:"false" doc:"Create the table if it does not exist: in variant mode at Open; in columns mode at Open with the column types of the station's JSON Schema, Avro or Protobuf schema when it has one, else from the first batch (column types from the JSON values)."`
	EvolveSchema bool           `json:"evolve_schema" default:"false" doc:"columns mode: add a nullable column for a field the table does not have yet (at Open for the fields of the station's schema, with the schema's type); without it such fields are dropped."`
	OffsetsTable string         `json:"offsets_table" default:"JUNCTION_OFFSETS" doc:"Table, in the same schema, where each batch's next offset per partition is committed in the same transaction as its rows; created if missing. This is what makes the sink exactly once."`
	MaxStatement connector.Size `json:"max_statement_bytes" default:"8MiB" doc:"Largest JSON document bound to one INSERT; a larger batch takes several INSERTs in the same transaction. At most 16MiB."`
}

// maxVariant is the largest value Snowflake stores in a VARIANT or VARCHAR.
const maxVariant = 16 << 20

// Validate checks the fields against each other.
func (c SinkConfig) Validate() error {
	errs := c.account.validate()
	for _, f := range []struct{ name, value string }{{"table", c.Table}, {"offsets_table", c.OffsetsTable}} {
		if _, err := identifier(f.value); err != nil {
			errs = append(errs, connector.FieldError{Field: f.name, Message: err.Error()})
		}
	}
	if c.Table != "" && c.OffsetsTable != "" && mustIdentOr(c.Table) == mustIdentOr(c.OffsetsTable) {
		errs = append(errs, connector.FieldError{Field: "offsets_table", Message: "must differ from table"})
	}
	if c.MaxStatement < 1024 || c.MaxStatement > maxVariant {
		errs = append(errs, connector.FieldError{Field: "max_statement_bytes", Message: "must be between 1KiB and 16MiB"})
	}
	if c.EvolveSchema && c.Mode != "columns" {
		errs = append(errs, connector.FieldError{Field: "evolve_schema", Message: "applies to mode columns only"})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func mustIdentOr(s string) string {
	n, _ := identifier(s)
	return n
}

// sink writes each batch with INSERT ... SELECT ... FROM
// TABLE(FLATTEN(INPUT => PARSE_JSON(?))), binding the batch as one JSON
// array, and in the same transaction records the next offset of every
// partition in the offsets table. Open reads that table back, so after a
// crash or a lost COMMIT reply the host resumes exactly after what
// Snowflake holds.
type sink struct {
	connector.UnimplementedSink
	cfg       SinkConfig
	db        *sql.DB
	connector string
	station   string
	table     string // quoted, qualified
	offsets   string // quoted, qualified

	// next is the next offset per partition the table does not hold yet;
	// stale means a Write failed in a way that leaves it unknown whether
	// its transaction committed, so next is read again.
	next  map[uint32]uint64
	stale bool

	cols *columnSet // columns mode: the table's columns; nil until known

	// schema is the columns of the station's schema (columns mode); nil
	// without one.
	schema *schemacols.Columns
}

func newSink(cfg SinkConfig) (connector.Sink, error) {
	return &sink{
		cfg:     cfg,
		table:   cfg.qualified(mustIdent(cfg.Table)),
		offsets: cfg.qualified(mustIdent(cfg.OffsetsTable)),
	}, nil
}

// Open logs in, checks (or creates) the table and the offsets table, and
// returns the next offset of every partition as the offsets table has it.
func (s *sink) Open(ctx context.Context, info connector.SinkInfo) (map[uint32]uint64, error) {
	s.connector, s.station = info.Connector, info.Station
	if s.cfg.Mode == "columns" {
		var err error
		if s.schema, err = schemacols.New(info.Schema); err != nil {
			return nil, connector.Fatal(fmt.Errorf("station %s: %w", s.station, err))
		}
	}
	db, err := openDB(ctx, s.cfg.account)
	if err != nil {
		return nil, err
	}
	s.db = db
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+s.offsets+
		` ("CONNECTOR" VARCHAR(256), "STATION" VARCHAR(256), "PARTITION" NUMBER(10,0), "NEXT_OFFSET" NUMBER(20,0))`); err != nil {
		return nil, classify(fmt.Errorf("create offsets table %s: %w", s.offsets, err))
	}
	if err := s.checkTable(ctx); err != nil {
		return nil, err
	}
	if err := s.loadOffsets(ctx); err != nil {
		return nil, err
	}
	s.compact(ctx)
	out := make(map[uint32]uint64, info.Partitions)
	for p := range info.Partitions {
		out[p] = s.next[p]
	}
	for p, off := range s.next {
		out[p] = off
	}
	return out, nil
}

// checkTable makes sure the table exists (creating it when asked) with
// the columns the mode needs.
func (s *sink) checkTable(ctx context.Context) error {
	cols, err := describe(ctx, s.db, s.table)
	if err != nil {
		return err
	}
	if cols == nil {
		if !s.cfg.AutoCreate {
			return connector.Fatal(fmt.Errorf("table %s does not exist or is not authorised for this role (auto_create is false)", s.table))
		}
		if s.cfg.Mode == "columns" {
			return s.schemaColumns(ctx) // or created from the first batch
		}
		if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+s.table+` ("RECORD_METADATA" VARIANT, "RECORD_CONTENT" VARIANT)`); err != nil {
			return classify(fmt.Errorf("create table %s: %w", s.table, err))
		}
		return nil
	}
	if s.cfg.Mode == "columns" {
		s.cols = newColumnSet(cols)
		if s.cfg.EvolveSchema {
			if err := s.schemaColumns(ctx); err != nil {
				return err
			}
		}
		if !s.cols.fillable() {
			return connector.Fatal(fmt.Errorf("table %s has no column mode columns can fill (types %v)", s.table, s.cols.types))
		}
		return nil
	}
	for _, want := range []string{"RECORD_METADATA", "RECORD_CONTENT"} {
		typ, ok := cols[want]
		if !ok {
			return connector.Fatal(fmt.Errorf("table %s has no column %s, which mode variant needs (RECORD_METADATA VARIANT, RECORD_CONTENT VARIANT)", s.table, want))
		}
		if typ != "VARIANT" {
			return connector.Fatal(fmt.Errorf("column %s of table %s is %s; mode variant needs VARIANT", want, s.table, typ))
		}
	}
	return nil
}

// describe returns a table's columns and their types, or nil when the
// table does not exist.
func describe(ctx context.Context, db *sql.DB, table string) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, `DESCRIBE TABLE `+table)
	if err != nil {
		if notExist(err) {
			return nil, nil
		}
		return nil, classify(fmt.Errorf("describe table %s: %w", table, err))
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, classify(err)
	}
	cols := map[string]string{}
	for rows.Next() {
		vals := make([]sql.NullString, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, classify(fmt.Errorf("describe table %s: %w", table, err))
		}
		if len(vals) >= 2 {
			cols[vals[0].String] = vals[1].String
		}
	}
	if err := rows.Err(); err != nil {
		return nil, classify(fmt.Errorf("describe table %s: %w", table, err))
	}
	return cols, nil
}

// notExist reports Snowflake's "does not exist or not authorized" for a
// table (not for its database or schema, which are fatal).
func notExist(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "002003") && strings.Contains(msg, "Table '")
}

// loadOffsets reads the next offsets of this connector and station.
//
// Writes only ever INSERT into the offsets table, and the next offset of
// a partition is the highest one there: INSERTs of different transactions
// do not block each other in Snowflake, whereas an UPDATE or DELETE in a
// transaction holds a table lock until it ends, which a transaction left
// open by a killed process would hold until Snowflake aborts it, hours
// later. Open removes the rows the highest ones supersede (compact).
func (s *sink) loadOffsets(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT "PARTITION", MAX("NEXT_OFFSET") FROM `+s.offsets+` WHERE "CONNECTOR" = ? AND "STATION" = ? GROUP BY "PARTITION"`, s.connector, s.station)
	if err != nil {
		return classify(fmt.Errorf("read offsets table %s: %w", s.offsets, err))
	}
	defer rows.Close()
	next := map[uint32]uint64{}
	for rows.Next() {
		var p uint32
		var off uint64
		if err := rows.Scan(&p, &off); err != nil {
			return connector.Fatal(fmt.Errorf("read offsets table %s: %w", s.offsets, err))
		}
		next[p] = max(next[p], off)
	}
	if err := rows.Err(); err != nil {
		return classify(fmt.Errorf("read offsets table %s: %w", s.offsets, err))
	}
	s.next = next
	s.stale = false
	return nil
}

// compact deletes the offsets rows superseded by a higher one. It runs
// outside any transaction and is best effort: a failure only leaves rows
// that MAX ignores. A DELETE may wait for the table lock of a transaction
// a killed process left open, so it gives up after compactTimeout.
func (s *sink) compact(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, compactTimeout)
	defer cancel()
	if len(s.next) == 0 {
		return
	}
	parts := make([]uint32, 0, len(s.next))
	for p := range s.next {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	conds := make([]string, len(parts))
	for i, p := range parts {
		conds[i] = fmt.Sprintf(`("PARTITION" = %d AND "NEXT_OFFSET" < %d)`, p, s.next[p])
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM `+s.offsets+` WHERE "CONNECTOR" = ? AND "STATION" = ? AND (`+strings.Join(conds, " OR ")+`)`, s.connector, s.station)
	if err != nil {
		connector.Logger(ctx).Warn("could not remove superseded rows from the offsets table", "table", s.offsets, "error", err)
	}
}

const compactTimeout = 30 * time.Second

// row is one record encoded for the INSERT, with its index in the batch.
type row struct {
	index int
	json  []byte
}

// Write inserts the records the table does not hold yet and commits them
// with the partitions' next offsets in one transaction. Records Snowflake
// refuses (a value too large, a type a column cannot hold) are found by
// splitting the failing INSERT, and reported in a *connector.BatchError
// with Snowflake's reason; the rest of the batch commits.
func (s *sink) Write(ctx context.Context, records []connector.Record) error {
	if s.db == nil {
		return connector.Fatal(errors.New("write before open"))
	}
	if s.stale {
		if err := s.loadOffsets(ctx); err != nil {
			return err
		}
	}
	failed := map[int]error{}
	next := map[uint32]uint64{}
	var fresh []int
	for i, r := range records {
		if r.Offset < s.next[r.Partition] || r.Offset < next[r.Partition] {
			continue // already in the table
		}
		next[r.Partition] = r.Offset + 1
		fresh = append(fresh, i)
	}
	if len(fresh) == 0 {
		return nil
	}
	rows, err := s.encode(ctx, records, fresh, failed)
	if err != nil {
		return err
	}
	err = s.commit(ctx, rows, next, failed)
	if err != nil {
		s.stale = true
		return err
	}
	for p, off := range next {
		s.next[p] = off
	}
	if len(failed) > 0 {
		return &connector.BatchError{Failed: failed}
	}
	return nil
}

// encode turns the fresh records into rows, recording in failed those
// that cannot be rows at all.
func (s *sink) encode(ctx context.Context, records []connector.Record, fresh []int, failed map[int]error) ([]row, error) {
	if s.cfg.Mode == "columns" {
		return s.encodeColumns(ctx, records, fresh, failed)
	}
	rows := make([]row, 0, len(fresh))
	var buf []byte
	for _, i := range fresh {
		start := len(buf)
		buf = variantRow(buf, s.station, records[i])
		if n := len(buf) - start; n > maxVariant {
			failed[i] = fmt.Errorf("record %d/%d is %d bytes encoded, more than the %d a Snowflake VARIANT holds", records[i].Partition, records[i].Offset, n, maxVariant)
			buf = buf[:start]
			continue
		}
		rows = append(rows, row{index: i, json: buf[start:len(buf):len(buf)]})
	}
	return rows, nil
}

// commit writes rows and the next offsets in one transaction.
func (s *sink) commit(ctx context.Context, rows []row, next map[uint32]uint64, failed map[int]error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return classify(fmt.Errorf("connect: %w", err))
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return classify(fmt.Errorf("begin transaction: %w", err))
	}
	defer func() { _ = tx.Rollback() }()
	var insert string
	if len(rows) > 0 {
		insert = s.insertSQL()
	}
	for len(rows) > 0 {
		n, size := 0, 2
		for n < len(rows) && (n == 0 || size+len(rows[n].json)+1 <= int(s.cfg.MaxStatement)) {
			size += len(rows[n].json) + 1
			n++
		}
		if err := s.insert(ctx, tx, insert, rows[:n], failed); err != nil {
			return err
		}
		rows = rows[n:]
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+s.offsets+` ("CONNECTOR", "STATION", "PARTITION", "NEXT_OFFSET") `+
		`SELECT ?, ?, value:p::NUMBER(10,0), value:n::NUMBER(20,0) FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))`, s.connector, s.station, offsetsDoc(next)); err != nil {
		return classify(fmt.Errorf("update offsets table %s: %w", s.offsets, err))
	}
	if err := tx.Commit(); err != nil {
		// The COMMIT may have happened with its reply lost: the next
		// Write reads the offsets table to find out.
		return connector.Retryable(fmt.Errorf("commit to %s: %w", s.table, err))
	}
	return nil
}

// offsetsDoc renders next offsets as the JSON array the offsets INSERT
// flattens.
func offsetsDoc(next map[uint32]uint64) string {
	parts := make([]uint32, 0, len(next))
	for p := range next {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	doc := []byte{'['}
	for i, p := range parts {
		if i > 0 {
			doc = append(doc, ',')
		}
		doc = fmt.Appendf(doc, `{"p":%d,"n":%d}`, p, next[p])
	}
	return string(append(doc, ']'))
}

// insert runs one INSERT of rows. If Snowflake refuses a value, it splits
// the rows to find the records at fault, adds them to failed and inserts
// the others.
func (s *sink) insert(ctx context.Context, tx *sql.Tx, insert string, rows []row, failed map[int]error) error {
	doc := make([]byte, 0, 2+len(rows)*64)
	doc = append(doc, '[')
	for i, r := range rows {
		if i > 0 {
			doc = append(doc, ',')
		}
		doc = append(doc, r.json...)
	}
	doc = append(doc, ']')
	_, err := tx.ExecContext(ctx, insert, string(doc))
	switch {
	case err == nil:
		return nil
	case !dataError(err):
		return classify(fmt.Errorf("insert into %s: %w", s.table, err))
	case len(rows) == 1:
		failed[rows[0].index] = fmt.Errorf("snowflake refused the record for %s: %w", s.table, err)
		return nil
	}
	half := len(rows) / 2
	if err := s.insert(ctx, tx, insert, rows[:half], failed); err != nil {
		return err
	}
	return s.insert(ctx, tx, insert, rows[half:], failed)
}

func (s *sink) insertSQL() string {
	if s.cfg.Mode == "columns" {
		return s.cols.insertSQL(s.table)
	}
	return `INSERT INTO ` + s.table + ` ("RECORD_METADATA", "RECORD_CONTENT") SELECT value:m, value:c FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))`
}

// Teardown logs out.
func (s *sink) Teardown(context.Context) error {
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

// variantRow encodes a record as {"m": RECORD_METADATA, "c": RECORD_CONTENT},
// appending to b. RECORD_METADATA holds station, partition, offset,
// timestamp (RFC 3339, UTC), key and key_encoding, headers (a list of
// {key, value, value_encoding}) and value_encoding.
func variantRow(b []byte, station string, r connector.Record) []byte {
	b = append(b, `{"m":{"station":`...)
	b = appendString(b, station)
	b = append(b, `,"partition":`...)
	b = strconv.AppendUint(b, uint64(r.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendUint(b, r.Offset, 10)
	if !r.Timestamp.IsZero() {
		b = append(b, `,"timestamp":"`...)
		b = r.Timestamp.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	if len(r.Key) > 0 {
		b = append(b, `,"key":`...)
		var enc string
		b, enc = embed(b, r.Key)
		if enc != "" {
			b = append(b, `,"key_encoding":"`+enc+`"`...)
		}
	}
	if len(r.Headers) > 0 {
		b = append(b, `,"headers":[`...)
		for i, h := range r.Headers {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"key":`...)
			b = appendString(b, h.Key)
			b = append(b, `,"value":`...)
			var enc string
			b, enc = embed(b, h.Value)
			if enc != "" {
				b = append(b, `,"value_encoding":"`+enc+`"`...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	// The content comes last in the document but its encoding belongs in
	// the metadata: encode it first into the tail, then move it.
	mark := len(b)
	b = append(b, `},"c":`...)
	b, enc := embed(b, r.Value)
	if enc != "" {
		tail := append([]byte(`,"value_encoding":"`+enc+`"`), b[mark:]...)
		b = append(b[:mark], tail...)
	}
	return append(b, '}')
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// embed appends bytes rendered for a VARIANT: JSON other than a JSON
// string as itself (compacted), other UTF-8 as a string, else base64 with
// encoding "base64". Empty is null.
func embed(b, v []byte) ([]byte, string) {
	if len(v) == 0 {
		return append(b, "null"...), ""
	}
	trimmed := bytes.TrimLeft(v, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] != '"' {
		buf := bytes.NewBuffer(b)
		if json.Compact(buf, v) == nil {
			return buf.Bytes(), ""
		}
	}
	if utf8.Valid(v) {
		return appendString(b, string(v)), ""
	}
	return appendString(b, base64.StdEncoding.EncodeToString(v)), "base64"
}
