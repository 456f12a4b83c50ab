package main

import (
	"context"
	"errors"

	"github.com/junctionhq/junction/sdk/connector"
)

// columnSet is the table's columns in mode columns.
type columnSet struct {
	types map[string]string
}

func newColumnSet(types map[string]string) *columnSet { return &columnSet{types: types} }

func (c *columnSet) insertSQL(table string) string { return "" }

func (s *sink) encodeColumns(ctx context.Context, records []connector.Record, fresh []int, failed map[int]error) ([]row, error) {
	return nil, connector.Fatal(errors.New("mode columns is not implemented yet"))
}
