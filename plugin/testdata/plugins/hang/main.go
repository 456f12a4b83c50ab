// Command hang is a sink plugin whose Write never returns, for testing the
// host's timeouts. With teardown_until set, its Teardown also blocks until
// that file exists, for testing that a slow shutdown stalls nothing else.
package main

import (
	"context"
	"os"
	"time"

	"github.com/junctionhq/junction/sdk/connector"
)

type config struct {
	TeardownUntil string `json:"teardown_until" doc:"Block Teardown until this file exists."`
}

type sink struct {
	connector.UnimplementedSink
	cfg config
}

func (sink) Open(ctx context.Context, info connector.SinkInfo) (map[uint32]uint64, error) {
	connector.Logger(ctx).Warn("opened; Write will never return", "station", info.Station)
	return nil, nil
}

func (sink) Write(context.Context, []connector.Record) error { select {} }

func (s sink) Teardown(ctx context.Context) error {
	if s.cfg.TeardownUntil == "" {
		return nil
	}
	connector.Logger(ctx).Warn("teardown waits for its release file")
	for {
		if _, err := os.Stat(s.cfg.TeardownUntil); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func main() {
	connector.Serve(connector.Definition{
		Name: "hang", Version: "0.1.0", Description: "A sink whose Write hangs.",
		Sink: connector.NewSink(func(c config) (connector.Sink, error) { return sink{cfg: c}, nil }),
	})
}
