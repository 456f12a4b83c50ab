// Command discard is a sink plugin that drops every record, to measure the
// cost of the plugin process boundary.
package main

import (
	"context"

	"github.com/junctionhq/junction/sdk/connector"
)

type config struct {
	Token string `json:"token" connector:"secret" doc:"A secret, to test that the host never shows it."`
}

type sink struct{ connector.UnimplementedSink }

func (sink) Open(context.Context, connector.SinkInfo) (map[uint32]uint64, error) { return nil, nil }

func (sink) Write(context.Context, []connector.Record) error { return nil }

func main() {
	connector.Serve(connector.Definition{
		Name: "discard", Version: "0.1.0", Description: "A sink that drops every record.",
		Sink: connector.NewSink(func(config) (connector.Sink, error) { return sink{}, nil }),
	})
}
