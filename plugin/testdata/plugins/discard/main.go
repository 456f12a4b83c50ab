// Command discard is a sink plugin that drops every record, to measure the
// cost of the plugin process boundary. It declares DISCARD_* in its spec;
// DISCARD_REFUSE, when set, makes Configure fail with its value, so tests
// see what environment the plugin received.
package main

import (
	"context"
	"os"
	"strconv"

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
		Env: []string{"DISCARD_*"},
		Sink: connector.NewSink(func(config) (connector.Sink, error) {
			if v, ok := os.LookupEnv("DISCARD_REFUSE"); ok {
				return nil, connector.FieldErrors{{Field: "token", Message: "refused: DISCARD_REFUSE=" + v + ", HOME set: " + strconv.FormatBool(os.Getenv("HOME") != "")}}
			}
			return sink{}, nil
		}),
	})
}
