package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/junctionhq/junction/sdk/connector"
)

// SourceConfig configures the Snowflake source.
type SourceConfig struct {
	account

	Table          string        `json:"table" doc:"Table (or view) to read. Set this or query."`
	Query          string        `json:"query" doc:"A SELECT to read instead of a table, without ORDER BY or LIMIT. The source wraps it as SELECT * FROM (query) WHERE <after the position> ORDER BY <ordering_column> LIMIT <page_size>, with the position as bound parameters, never spliced into the SQL."`
	OrderingColumn []string      `json:"ordering_column" connector:"required" doc:"Column, or columns in order, whose values are unique and increase as rows are added: an id, or a timestamp and a tie-breaker such as an id. Rows are read in this order, and the position is the last row's values."`
	PageSize       int           `json:"page_size" default:"10000" doc:"Rows per query."`
	PollInterval   time.Duration `json:"poll_interval" default:"30s" doc:"Time between queries once caught up. Each query resumes the warehouse if it is suspended: keep this above the warehouse's AUTO_SUSPEND, or accept that it never suspends."`
	OrderingDelay  time.Duration `json:"ordering_delay" default:"0s" doc:"Read only rows whose first ordering column (a TIMESTAMP_NTZ in UTC) is at least this old, so that rows committed late with an earlier timestamp are not skipped; like Kafka Connect JDBC's timestamp.delay.interval.ms."`
	KeyColumn      string        `json:"key_column" doc:"Column whose value (as text) is each record's key; empty for no key."`
	ValueColumn    string        `json:"value_column" doc:"Column whose value is each record's value as it is (text as UTF-8, binary as bytes, VARIANT as JSON); empty for the whole row as a JSON object."`
}

// Validate checks the fields against each other.
func (c SourceConfig) Validate() error {
	errs := c.account.validate()
	add := func(field, msg string) { errs = append(errs, connector.FieldError{Field: field, Message: msg}) }
	switch {
	case c.Table == "" && c.Query == "":
		add("table", "set table or query")
	case c.Table != "" && c.Query != "":
		add("query", "set table or query, not both")
	case c.Table != "":
		if _, err := identifier(c.Table); err != nil {
			add("table", err.Error())
		}
	default:
		q := strings.TrimSpace(c.Query)
		if len(q) < 6 || !strings.EqualFold(q[:6], "SELECT") && !strings.EqualFold(q[:4], "WITH") {
			add("query", "must be a SELECT")
		}
		if strings.Contains(q, ";") {
			add("query", "must be one statement, without ';'")
		}
		if strings.Contains(q, "?") {
			add("query", "must not contain ? placeholders: the source binds the position itself")
		}
	}
	for i, col := range c.OrderingColumn {
		if _, err := identifier(col); err != nil {
			add(fmt.Sprintf("ordering_column[%d]", i), err.Error())
		}
	}
	for _, f := range []struct{ name, value string }{{"key_column", c.KeyColumn}, {"value_column", c.ValueColumn}} {
		if f.value != "" {
			if _, err := identifier(f.value); err != nil {
				add(f.name, err.Error())
			}
		}
	}
	if c.PageSize < 1 || c.PageSize > 1_000_000 {
		add("page_size", "must be between 1 and 1000000")
	}
	if c.PollInterval <= 0 {
		add("poll_interval", "must be positive")
	}
	if c.OrderingDelay < 0 {
		add("ordering_delay", "must not be negative")
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// source reads rows after its position, a page at a time, in the order
// of the ordering columns. A position is the last delivered row's
// ordering values, which are also its record id, so replays after a crash
// produce the same ids and the host drops them.
type source struct {
	connector.UnimplementedSource
	cfg      SourceConfig
	db       *sql.DB
	from     string   // quoted table or parenthesised query
	order    []string // resolved ordering column names
	idPrefix string

	last  []posValue // position: the last row's ordering values; nil at the start
	first bool       // no page read yet since Open: query without waiting
}

// posValue is one ordering value, typed so that it binds as it was read.
type posValue struct {
	Type  string `json:"t"` // int, text, time, float
	Value string `json:"v"`
}

func newSource(cfg SourceConfig) (connector.Source, error) {
	s := &source{cfg: cfg}
	for _, c := range cfg.OrderingColumn {
		s.order = append(s.order, mustIdent(c))
	}
	if cfg.Table != "" {
		s.from = cfg.qualified(mustIdent(cfg.Table))
		s.idPrefix = s.from
	} else {
		s.from = "(" + strings.TrimSpace(cfg.Query) + `) AS "JUNCTION_Q"`
		sum := sha256.Sum256([]byte(cfg.Query))
		s.idPrefix = "query:" + hex.EncodeToString(sum[:8])
	}
	return s, nil
}

// Open logs in and restores the position.
func (s *source) Open(ctx context.Context, pos connector.Position) error {
	if len(pos) > 0 {
		last, err := parsePosition(pos, len(s.order))
		if err != nil {
			return connector.Fatal(err)
		}
		s.last = last
	}
	db, err := openDB(ctx, s.cfg.account)
	if err != nil {
		return err
	}
	s.db = db
	s.first = true
	return nil
}

// parsePosition decodes a position of n ordering values and checks that
// each binds.
func parsePosition(pos connector.Position, n int) ([]posValue, error) {
	var last []posValue
	if err := json.Unmarshal(pos, &last); err != nil || len(last) != n {
		return nil, fmt.Errorf("position %.200q does not hold %d ordering values: was ordering_column changed?", pos, n)
	}
	for i, v := range last {
		if _, err := v.arg(); err != nil {
			return nil, fmt.Errorf("position %.200q, value %d: %w", pos, i, err)
		}
	}
	return last, nil
}

// Read returns the next page of rows after the position, polling every
// poll_interval while there are none.
func (s *source) Read(ctx context.Context) (connector.Batch, error) {
	if s.db == nil {
		return connector.Batch{}, connector.Fatal(errors.New("read before open"))
	}
	for {
		if !s.first {
			t := time.NewTimer(s.cfg.PollInterval)
			select {
			case <-ctx.Done():
				t.Stop()
				return connector.Batch{}, ctx.Err()
			case <-t.C:
			}
		}
		s.first = false
		b, err := s.page(ctx)
		if err != nil || len(b.Records) > 0 {
			if len(b.Records) == s.cfg.PageSize {
				s.first = true // more may be waiting
			}
			return b, err
		}
	}
}

// pageSQL is the query for the page after the position, and its args.
func (s *source) pageSQL() (string, []any, error) {
	var conds []string
	var args []any
	if s.last != nil {
		vals := make([]any, len(s.last))
		for i, v := range s.last {
			a, err := v.arg()
			if err != nil {
				return "", nil, connector.Fatal(fmt.Errorf("position: %w", err))
			}
			vals[i] = a
		}
		// (a > ?) OR (a = ? AND b > ?) OR ...: row value comparison
		// spelled out.
		var ors []string
		for i := range s.order {
			var ands []string
			for j := range i {
				ands = append(ands, quoteIdent(s.order[j])+" = ?")
				args = append(args, vals[j])
			}
			ands = append(ands, quoteIdent(s.order[i])+" > ?")
			args = append(args, vals[i])
			ors = append(ors, "("+strings.Join(ands, " AND ")+")")
		}
		conds = append(conds, "("+strings.Join(ors, " OR ")+")")
	}
	if s.cfg.OrderingDelay > 0 {
		conds = append(conds, quoteIdent(s.order[0])+" <= ?")
		args = append(args, time.Now().Add(-s.cfg.OrderingDelay).UTC())
	}
	q := "SELECT * FROM " + s.from
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	cols := make([]string, len(s.order))
	for i, c := range s.order {
		cols[i] = quoteIdent(c)
	}
	q += " ORDER BY " + strings.Join(cols, ", ") + " LIMIT " + strconv.Itoa(s.cfg.PageSize)
	return q, args, nil
}

func (s *source) page(ctx context.Context) (connector.Batch, error) {
	q, args, err := s.pageSQL()
	if err != nil {
		return connector.Batch{}, err
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return connector.Batch{}, classify(fmt.Errorf("read %s: %w", s.idPrefix, err))
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return connector.Batch{}, classify(fmt.Errorf("read %s: %w", s.idPrefix, err))
	}
	find := func(field, name string) (int, error) {
		for i, ct := range cts {
			if ct.Name() == name {
				return i, nil
			}
		}
		return 0, connector.Fatal(fmt.Errorf("%s: %s has no column %s", field, s.idPrefix, quoteIdent(name)))
	}
	orderIdx := make([]int, len(s.order))
	for i, c := range s.order {
		if orderIdx[i], err = find("ordering_column", c); err != nil {
			return connector.Batch{}, err
		}
	}
	keyIdx, valueIdx := -1, -1
	if s.cfg.KeyColumn != "" {
		if keyIdx, err = find("key_column", mustIdent(s.cfg.KeyColumn)); err != nil {
			return connector.Batch{}, err
		}
	}
	if s.cfg.ValueColumn != "" {
		if valueIdx, err = find("value_column", mustIdent(s.cfg.ValueColumn)); err != nil {
			return connector.Batch{}, err
		}
	}
	names := make([][]byte, len(cts))
	for i, ct := range cts {
		names[i], _ = json.Marshal(ct.Name())
	}
	var b connector.Batch
	vals := make([]any, len(cts))
	ptrs := make([]any, len(cts))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var last []posValue
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return connector.Batch{}, classify(fmt.Errorf("read %s: %w", s.idPrefix, err))
		}
		last = make([]posValue, len(orderIdx))
		for i, idx := range orderIdx {
			if last[i], err = positionValue(cts[idx].DatabaseTypeName(), vals[idx]); err != nil {
				return connector.Batch{}, connector.Fatal(fmt.Errorf("ordering_column %s: %w", s.order[i], err))
			}
		}
		id, _ := json.Marshal(last)
		r := connector.Record{ID: s.idPrefix + ":" + string(id)}
		if keyIdx >= 0 && vals[keyIdx] != nil {
			r.Key = rawValue(cts[keyIdx].DatabaseTypeName(), vals[keyIdx])
		}
		if valueIdx >= 0 {
			r.Value = rawValue(cts[valueIdx].DatabaseTypeName(), vals[valueIdx])
		} else {
			v := []byte{'{'}
			for i, ct := range cts {
				if i > 0 {
					v = append(v, ',')
				}
				v = append(v, names[i]...)
				v = append(v, ':')
				v = appendJSON(v, ct.DatabaseTypeName(), vals[i])
			}
			r.Value = append(v, '}')
		}
		b.Records = append(b.Records, r)
	}
	if err := rows.Err(); err != nil {
		return connector.Batch{}, classify(fmt.Errorf("read %s: %w", s.idPrefix, err))
	}
	if len(b.Records) > 0 {
		s.last = last
		b.Position, _ = json.Marshal(last)
	}
	return b, nil
}

// positionValue records an ordering value so that it binds back as the
// same type.
func positionValue(dbType string, v any) (posValue, error) {
	switch x := v.(type) {
	case nil:
		return posValue{}, errors.New("is NULL in a row; ordering columns must not be NULL")
	case time.Time:
		return posValue{Type: "time", Value: x.UTC().Format(time.RFC3339Nano)}, nil
	case int64:
		return posValue{Type: "int", Value: strconv.FormatInt(x, 10)}, nil
	case float64:
		return posValue{Type: "float", Value: strconv.FormatFloat(x, 'g', -1, 64)}, nil
	case string:
		if dbType == "FIXED" {
			if _, err := strconv.ParseInt(x, 10, 64); err == nil {
				return posValue{Type: "int", Value: x}, nil
			}
		}
		return posValue{Type: "text", Value: x}, nil
	case []byte:
		return posValue{Type: "text", Value: string(x)}, nil
	}
	return posValue{}, fmt.Errorf("has values of type %T, which cannot order rows", v)
}

func (p posValue) arg() (any, error) {
	switch p.Type {
	case "int":
		return strconv.ParseInt(p.Value, 10, 64)
	case "float":
		// Bound as text: the driver would send a float64 with 32-bit
		// precision. Snowflake casts it for the comparison.
		return p.Value, nil
	case "time":
		return time.Parse(time.RFC3339Nano, p.Value)
	case "text":
		return p.Value, nil
	}
	return nil, fmt.Errorf("unknown value type %q", p.Type)
}

// rawValue is a column's value as bytes: text as it is, binary as its
// bytes, times in RFC 3339.
func rawValue(dbType string, v any) []byte {
	switch x := v.(type) {
	case nil:
		return nil
	case []byte:
		return x
	case string:
		return []byte(x)
	case time.Time:
		return []byte(x.UTC().Format(time.RFC3339Nano))
	}
	return fmt.Append(nil, v)
}

// appendJSON renders a column value as JSON, by its Snowflake type.
func appendJSON(b []byte, dbType string, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case time.Time:
		return strconv.AppendQuote(b, x.UTC().Format(time.RFC3339Nano))
	case []byte:
		q, _ := json.Marshal(base64.StdEncoding.EncodeToString(x))
		return append(b, q...)
	case bool:
		return strconv.AppendBool(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return strconv.AppendQuote(b, strconv.FormatFloat(x, 'g', -1, 64))
		}
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case string:
		switch dbType {
		case "VARIANT", "OBJECT", "ARRAY":
			if json.Valid([]byte(x)) {
				return append(b, x...)
			}
		case "FIXED", "REAL":
			if f, err := strconv.ParseFloat(x, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && json.Valid([]byte(x)) {
				return append(b, x...)
			}
		case "BOOLEAN":
			if t, err := strconv.ParseBool(x); err == nil {
				return strconv.AppendBool(b, t)
			}
		}
		q, _ := json.Marshal(x)
		return append(b, q...)
	}
	q, err := json.Marshal(v)
	if err != nil {
		q, _ = json.Marshal(fmt.Sprint(v))
	}
	return append(b, q...)
}

// Teardown logs out.
func (s *source) Teardown(context.Context) error {
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}
