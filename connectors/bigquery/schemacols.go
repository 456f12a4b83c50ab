package main

import (
	"strings"

	"cloud.google.com/go/bigquery"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/schemacols"
)

// bqType is the BigQuery column type of a schema type.
func bqType(t schemacols.Type) bigquery.FieldType {
	switch t {
	case schemacols.String:
		return bigquery.StringFieldType
	case schemacols.Integer:
		return bigquery.IntegerFieldType
	case schemacols.Float:
		return bigquery.FloatFieldType
	case schemacols.Boolean:
		return bigquery.BooleanFieldType
	case schemacols.Bytes:
		return bigquery.BytesFieldType
	case schemacols.Timestamp:
		return bigquery.TimestampFieldType
	case schemacols.Date:
		return bigquery.DateFieldType
	}
	return bigquery.JSONFieldType
}

// schemaType is the column type the station's schema gives field.
func (s *sink) schemaType(field string) (bigquery.FieldType, bool) {
	if s.schema == nil {
		return "", false
	}
	t, ok := s.schema.Lookup(field)
	if !ok {
		return "", false
	}
	return bqType(t), true
}

// schemaFields is a NULLABLE column for each field of the station's
// schema that have lacks. Fields whose names BigQuery does not take as
// column names are left out: records carrying them fail on their own.
func (s *sink) schemaFields(have bigquery.Schema) bigquery.Schema {
	if s.schema == nil {
		return nil
	}
	names := make(map[string]bool, len(have))
	for _, f := range have {
		names[strings.ToLower(f.Name)] = true
	}
	var out bigquery.Schema
	for _, c := range s.schema.Cols {
		lower := strings.ToLower(c.Name)
		if names[lower] || !columnNameRE.MatchString(c.Name) || strings.HasPrefix(lower, "_junction_") || isReserved(c.Name) {
			continue
		}
		names[lower] = true
		out = append(out, &bigquery.FieldSchema{Name: c.Name, Type: bqType(c.Type)})
	}
	return out
}

// recordJSON is r's value as JSON: Avro and Protobuf values are decoded
// with the station's schema.
func (s *sink) recordJSON(r connector.Record) ([]byte, error) {
	if s.schema == nil || !s.schema.Binary() {
		return r.Value, nil
	}
	return s.schema.Record(r)
}
