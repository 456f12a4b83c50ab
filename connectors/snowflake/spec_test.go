package main

import (
	"testing"

	"github.com/junctionhq/junction/sdk/connector/connectortest"
)

func TestSpecGolden(t *testing.T) { connectortest.SpecGolden(t, definition()) }
