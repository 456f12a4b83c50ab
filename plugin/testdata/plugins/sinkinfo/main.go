// Command sinkinfo is a sink plugin that logs to a file the schema each
// Open sees and each record's value with its junction-schema header, to
// test that sinks see their station's schema.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/junctionhq/junction/sdk/connector"
)

type config struct {
	File string `json:"file" connector:"required" doc:"The file to append to."`
}

type sink struct {
	connector.UnimplementedSink
	f *os.File
}

func (s *sink) Open(_ context.Context, info connector.SinkInfo) (map[uint32]uint64, error) {
	schema := "none"
	if sc := info.Schema; sc != nil {
		schema = sc.Name + "@" + strconv.FormatUint(uint64(sc.Version), 10) + " " + sc.Type + " " + strconv.Itoa(len(sc.Files))
	}
	_, err := fmt.Fprintf(s.f, "open %s\n", schema)
	return nil, err
}

func (s *sink) Write(_ context.Context, recs []connector.Record) error {
	for _, r := range recs {
		h := "-"
		for _, hd := range r.Headers {
			if hd.Key == connector.HeaderSchema {
				h = string(hd.Value)
			}
		}
		if _, err := fmt.Fprintf(s.f, "write %s %s\n", r.Value, h); err != nil {
			return err
		}
	}
	return s.f.Sync()
}

func (s *sink) Teardown(context.Context) error { return s.f.Close() }

func main() {
	connector.Serve(connector.Definition{
		Name: "sinkinfo", Version: "0.1.0", Description: "A sink that logs the schema it sees.",
		Sink: connector.NewSink(func(c config) (connector.Sink, error) {
			f, err := os.OpenFile(c.File, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return nil, err
			}
			return &sink{f: f}, nil
		}),
	})
}
