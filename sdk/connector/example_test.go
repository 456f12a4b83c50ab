package connector_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/junctionhq/junction/sdk/connector"
)

// PrintConfig configures the print sink.
type PrintConfig struct {
	Prefix string `json:"prefix" default:"> " doc:"Printed before every value."`
	Upper  bool   `json:"upper" doc:"Print values in upper case."`
}

// printSink prints every record's value. Embedding UnimplementedSink keeps
// it compiling when the Sink interface grows.
type printSink struct {
	connector.UnimplementedSink
	cfg  PrintConfig
	next map[uint32]uint64
}

func newPrintSink(cfg PrintConfig) (connector.Sink, error) {
	return &printSink{cfg: cfg, next: map[uint32]uint64{}}, nil
}

// Open reports nothing durable: stdout cannot tell the host where it was.
func (s *printSink) Open(ctx context.Context, info connector.SinkInfo) (map[uint32]uint64, error) {
	connector.Logger(ctx).Info("printing", "station", info.Station)
	return nil, nil
}

func (s *printSink) Write(ctx context.Context, records []connector.Record) error {
	for _, r := range records {
		if r.Offset < s.next[r.Partition] {
			continue // a replay: already printed
		}
		v := string(r.Value)
		if s.cfg.Upper {
			v = strings.ToUpper(v)
		}
		fmt.Println(s.cfg.Prefix + v)
		s.next[r.Partition] = r.Offset + 1
	}
	return nil
}

// A complete sink. In a plugin binary, main is just
//
//	connector.Serve(definition)
//
// Here the sink is driven directly, as the host would through the plugin.
func Example() {
	definition := connector.Definition{
		Name:        "print",
		Version:     "0.1.0",
		Description: "Prints record values to stdout.",
		Sink:        connector.NewSink(newPrintSink),
	}
	cfg, err := definition.Sink.Decode(map[string]any{"upper": true})
	if err != nil {
		fmt.Println(err)
		return
	}
	sink, _ := newPrintSink(cfg.(PrintConfig))
	ctx := context.Background()
	sink.Open(ctx, connector.SinkInfo{Station: "greetings"})
	sink.Write(ctx, []connector.Record{{Value: []byte("hello"), Offset: 0}, {Value: []byte("world"), Offset: 1}})
	sink.Write(ctx, []connector.Record{{Value: []byte("world"), Offset: 1}})
	sink.Teardown(ctx)
	fmt.Println(definition.Spec().Fields[0].Name, definition.Spec().Fields[0].Default)
	// Output:
	// > HELLO
	// > WORLD
	// prefix >
}
