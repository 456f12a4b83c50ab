package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/junctionhq/junction/sdk/connector"
)

// columnSet is the table's columns in mode columns, in table order.
type columnSet struct {
	names []string          // exact column names
	types []string          // as DESCRIBE TABLE shows them, such as NUMBER(38,0)
	index map[string]int    // exact name → position
	fold  map[string][]int  // upper-cased name → positions
	skip  map[string]string // columns the sink cannot fill → why
}

func newColumnSet(types map[string]string) *columnSet {
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	c := &columnSet{index: map[string]int{}, fold: map[string][]int{}, skip: map[string]string{}}
	for _, n := range names {
		c.index[n] = len(c.names)
		c.fold[strings.ToUpper(n)] = append(c.fold[strings.ToUpper(n)], len(c.names))
		c.names = append(c.names, n)
		c.types = append(c.types, types[n])
	}
	return c
}

// lookup finds the column for a JSON field: the exact name first, else
// the only column whose name matches regardless of case.
func (c *columnSet) lookup(field string) (int, bool) {
	if i, ok := c.index[field]; ok {
		return i, true
	}
	if is := c.fold[strings.ToUpper(field)]; len(is) == 1 {
		return is[0], true
	}
	return 0, false
}

// castType is the type a VARIANT field is cast to for column i, or ""
// when the column is left as VARIANT. VARCHAR lengths are left out so
// that the INSERT, not the cast, refuses a string that is too long.
func castType(typ string) (string, bool) {
	base, args, _ := strings.Cut(strings.ToUpper(typ), "(")
	switch base {
	case "VARIANT":
		return "", true
	case "OBJECT", "ARRAY", "VARCHAR", "TEXT", "STRING", "CHAR", "CHARACTER", "FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "REAL",
		"BOOLEAN", "DATE", "TIMESTAMP_NTZ", "TIMESTAMP", "DATETIME", "TIMESTAMP_LTZ", "TIMESTAMP_TZ", "TIME":
		return base, true
	case "NUMBER", "NUMERIC", "DECIMAL":
		if args != "" {
			return base + "(" + args, true
		}
		return base, true
	case "INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT":
		return base, true
	}
	return "", false
}

// fillable reports whether some column has a type the sink can fill.
func (c *columnSet) fillable() bool {
	for _, t := range c.types {
		if _, ok := castType(t); ok {
			return true
		}
	}
	return false
}

func (c *columnSet) insertSQL(table string) string {
	var cols, exprs []string
	for i, n := range c.names {
		t, ok := castType(c.types[i])
		if !ok {
			continue
		}
		cols = append(cols, quoteIdent(n))
		e := "value:c" + strconv.Itoa(i)
		if t != "" {
			e += "::" + t
		}
		exprs = append(exprs, e)
	}
	return `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) SELECT ` + strings.Join(exprs, ", ") + ` FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))`
}

// fieldType infers a Snowflake column type from a JSON value; "" for null.
func fieldType(raw json.RawMessage) string {
	switch raw[0] {
	case 'n':
		return ""
	case 't', 'f':
		return "BOOLEAN"
	case '"':
		return "VARCHAR"
	case '{', '[':
		return "VARIANT"
	}
	if bytes.ContainsAny(raw, ".eE") {
		return "FLOAT"
	}
	return "NUMBER(38,0)"
}

// widen merges two inferred types of one field.
func widen(a, b string) string {
	switch {
	case a == "" || a == b:
		return b
	case b == "":
		return a
	case a == "NUMBER(38,0)" && b == "FLOAT" || a == "FLOAT" && b == "NUMBER(38,0)":
		return "FLOAT"
	}
	return "VARIANT"
}

// columnName is the column a new field gets: upper-cased when it is a
// plain identifier (so that SQL can name it without quotes), else exact.
func columnName(field string) string {
	if simpleIdent.MatchString(field) {
		return strings.ToUpper(field)
	}
	return field
}

// encodeColumns parses each fresh record's value as a JSON object, creates
// the table or adds columns when asked, and renders the rows as objects
// keyed by column position ("c0", "c1", ...), so that no field name ever
// reaches the SQL text.
func (s *sink) encodeColumns(ctx context.Context, records []connector.Record, fresh []int, failed map[int]error) ([]row, error) {
	objs := make(map[int]map[string]json.RawMessage, len(fresh))
	for _, i := range fresh {
		r := records[i]
		var obj map[string]json.RawMessage
		value, err := s.recordJSON(r)
		if err != nil {
			failed[i] = err
			continue
		}
		if err := json.Unmarshal(value, &obj); err != nil || obj == nil {
			failed[i] = fmt.Errorf("record %d/%d: mode columns needs a JSON object value", r.Partition, r.Offset)
			continue
		}
		if len(value) > maxVariant {
			failed[i] = fmt.Errorf("record %d/%d is %d bytes, more than the %d Snowflake accepts in one value", r.Partition, r.Offset, len(value), maxVariant)
			continue
		}
		objs[i] = obj
	}
	if len(objs) == 0 {
		return nil, nil
	}
	if err := s.evolve(ctx, objs); err != nil {
		return nil, err
	}
	if s.cols == nil {
		// Nothing to create the table from: only empty objects.
		for i := range objs {
			failed[i] = fmt.Errorf("record %d/%d: table %s does not exist yet and the record has no field to create it from", records[i].Partition, records[i].Offset, s.table)
		}
		return nil, nil
	}
	if !s.cols.fillable() {
		return nil, connector.Fatal(fmt.Errorf("table %s has no column mode columns can fill (types %v)", s.table, s.cols.types))
	}
	rows := make([]row, 0, len(objs))
	buf := make([]byte, 0, 256)
	for _, i := range fresh {
		obj, ok := objs[i]
		if !ok {
			continue
		}
		buf = append(buf[:0], '{')
		n := 0
		for field, v := range obj {
			c, ok := s.cols.lookup(field)
			if !ok {
				continue
			}
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `"c`...)
			buf = strconv.AppendInt(buf, int64(c), 10)
			buf = append(buf, `":`...)
			buf = append(buf, s.utc(field, v)...)
			n++
		}
		buf = append(buf, '}')
		rows = append(rows, row{index: i, json: bytes.Clone(buf)})
	}
	return rows, nil
}

// evolve creates the table from the batch (auto_create) or adds the
// columns for fields it does not have (evolve_schema), then reads the
// columns back.
func (s *sink) evolve(ctx context.Context, objs map[int]map[string]json.RawMessage) error {
	if s.cols != nil && !s.cfg.EvolveSchema {
		return nil
	}
	types := map[string]string{}
	var order []string
	for _, obj := range objs {
		for field, v := range obj {
			if s.cols != nil {
				if _, ok := s.cols.lookup(field); ok {
					continue
				}
			}
			name := columnName(field)
			if _, seen := types[name]; !seen {
				order = append(order, name)
			}
			if t, ok := s.schemaType(field); ok {
				types[name] = t
			} else {
				types[name] = widen(types[name], fieldType(v))
			}
		}
	}
	return s.addColumns(ctx, types, order)
}

// addColumns creates the table with the columns order names (types gives
// their types; "" stands for VARCHAR), or adds those it lacks, then reads
// the columns back.
func (s *sink) addColumns(ctx context.Context, types map[string]string, order []string) error {
	if len(order) == 0 && s.cols != nil {
		return nil
	}
	sort.Strings(order)
	defs := make([]string, len(order))
	for i, n := range order {
		t := types[n]
		if t == "" {
			t = "VARCHAR"
		}
		defs[i] = quoteIdent(n) + " " + t
	}
	if s.cols == nil {
		if len(defs) == 0 {
			return nil
		}
		if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+s.table+` (`+strings.Join(defs, ", ")+`)`); err != nil {
			return classify(fmt.Errorf("create table %s: %w", s.table, err))
		}
	} else if _, err := s.db.ExecContext(ctx, `ALTER TABLE `+s.table+` ADD COLUMN IF NOT EXISTS `+strings.Join(defs, ", ")); err != nil {
		return classify(fmt.Errorf("add columns %s to %s: %w", strings.Join(order, ", "), s.table, err))
	}
	cols, err := describe(ctx, s.db, s.table)
	if err != nil {
		return err
	}
	if cols == nil {
		return connector.Retryable(fmt.Errorf("table %s disappeared", s.table))
	}
	s.cols = newColumnSet(cols)
	return nil
}
