// Command community is a stand-in community connector for the hub tests: a
// sink that appends each record's value as a line to a file.
package main

import (
	"context"
	"os"

	"github.com/junctionhq/junction/sdk/connector"
)

// version is set with -ldflags "-X main.version=..." to publish several.
var version = "1.0.0"

type config struct {
	Path string `json:"path" connector:"required" doc:"File the values are appended to, one per line."`
}

type sink struct {
	connector.UnimplementedSink
	cfg config
}

func (s *sink) Open(context.Context, connector.SinkInfo) (map[uint32]uint64, error) { return nil, nil }

func (s *sink) Write(_ context.Context, records []connector.Record) error {
	f, err := os.OpenFile(s.cfg.Path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	for _, r := range records {
		f.Write(append(r.Value, '\n'))
	}
	return f.Close()
}

func main() {
	connector.Serve(connector.Definition{
		Name:        "community-lines",
		Version:     version,
		Description: "Appends record values to a file, one per line.",
		License:     "MIT",
		Sink:        connector.NewSink(func(c config) (connector.Sink, error) { return &sink{cfg: c}, nil }),
	})
}
