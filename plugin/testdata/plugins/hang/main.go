// Command hang is a sink plugin whose Write never returns, for testing the
// host's timeouts.
package main

import (
	"context"

	"github.com/junctionhq/junction/sdk/connector"
)

type config struct{}

type sink struct{ connector.UnimplementedSink }

func (sink) Open(ctx context.Context, info connector.SinkInfo) (map[uint32]uint64, error) {
	connector.Logger(ctx).Warn("opened; Write will never return", "station", info.Station)
	return nil, nil
}

func (sink) Write(context.Context, []connector.Record) error { select {} }

func main() {
	connector.Serve(connector.Definition{
		Name: "hang", Version: "0.1.0", Description: "A sink whose Write hangs.",
		Sink: connector.NewSink(func(config) (connector.Sink, error) { return sink{}, nil }),
	})
}
