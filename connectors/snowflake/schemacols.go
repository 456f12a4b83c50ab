package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/schemacols"
)

// sfType is the Snowflake column type of a schema type. Bytes arrive as
// base64 text; timestamps are written as UTC wall time.
func sfType(t schemacols.Type) string {
	switch t {
	case schemacols.String, schemacols.Bytes:
		return "VARCHAR"
	case schemacols.Integer:
		return "NUMBER(38,0)"
	case schemacols.Float:
		return "FLOAT"
	case schemacols.Boolean:
		return "BOOLEAN"
	case schemacols.Timestamp:
		return "TIMESTAMP_NTZ"
	case schemacols.Date:
		return "DATE"
	}
	return "VARIANT"
}

// schemaType is the column type the station's schema gives field.
func (s *sink) schemaType(field string) (string, bool) {
	if s.schema == nil {
		return "", false
	}
	t, ok := s.schema.Lookup(field)
	if !ok {
		return "", false
	}
	return sfType(t), true
}

// schemaColumns creates the table with the columns of the station's
// schema, or adds those of its fields the table lacks; nothing without a
// schema.
func (s *sink) schemaColumns(ctx context.Context) error {
	if s.schema == nil {
		return nil
	}
	types := map[string]string{}
	var order []string
	for _, c := range s.schema.Cols {
		if s.cols != nil {
			if _, ok := s.cols.lookup(c.Name); ok {
				continue
			}
		}
		name := columnName(c.Name)
		if _, seen := types[name]; seen {
			continue
		}
		types[name] = sfType(c.Type)
		order = append(order, name)
	}
	if len(order) == 0 {
		return nil
	}
	sort.Strings(order)
	if err := s.addColumns(ctx, types, order); err != nil {
		return err
	}
	connector.Logger(ctx).Info("columns from the station schema", "table", s.table, "schema", fmt.Sprintf("%s@%d", s.schema.Schema().Name, s.schema.Schema().Version), "columns", len(order))
	return nil
}

// utc renders the RFC 3339 value of a field the schema types as a
// timestamp in UTC: a cast to TIMESTAMP_NTZ would drop its offset.
func (s *sink) utc(field string, v json.RawMessage) json.RawMessage {
	if s.schema == nil || len(v) < 2 || v[0] != '"' {
		return v
	}
	if t, ok := s.schema.Lookup(field); !ok || t != schemacols.Timestamp {
		return v
	}
	var text string
	if json.Unmarshal(v, &text) != nil {
		return v
	}
	ts, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return v
	}
	return json.RawMessage(`"` + ts.UTC().Format(time.RFC3339Nano) + `"`)
}

// recordJSON is a record's value as JSON: Avro and Protobuf values are
// decoded with the station's schema.
func (s *sink) recordJSON(r connector.Record) ([]byte, error) {
	if s.schema == nil || !s.schema.Binary() {
		return r.Value, nil
	}
	v, err := s.schema.Record(r)
	if err != nil {
		return nil, fmt.Errorf("record %d/%d: %w", r.Partition, r.Offset, err)
	}
	return v, nil
}
