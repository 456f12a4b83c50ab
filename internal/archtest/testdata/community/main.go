// Command community-upper is what a community connector looks like from
// outside the Junction repository: its own module, requiring only the sdk
// module. It is a sink that writes each record's value, upper-cased, as a
// line to a file.
package main

import (
	"bytes"
	"context"
	"os"

	"github.com/junctionhq/junction/sdk/connector"
)

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
		if _, err := f.Write(append(bytes.ToUpper(r.Value), '\n')); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func main() {
	connector.Serve(connector.Definition{
		Name:        "community-upper",
		Version:     "1.0.0",
		Description: "Appends record values, upper-cased, to a file, one per line.",
		License:     "MIT",
		Sink:        connector.NewSink(func(c config) (connector.Sink, error) { return &sink{cfg: c}, nil }),
	})
}
