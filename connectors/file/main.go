// Command file is Junction's file connector, and the example to copy when
// writing a connector.
//
// As a sink it writes each station partition to JSON lines files under a
// directory, exactly once: a file is appended and fsynced on every write,
// named after the offsets it holds, and after a crash the sink tells the
// broker where to resume. As a source it reads lines from the files matching
// a glob, following appends.
//
// Run it with --spec to print its configuration fields.
package main

import "github.com/junctionhq/junction/sdk/connector"

func definition() connector.Definition {
	return connector.Definition{
		Name:        "file",
		Version:     "1.0.0",
		Description: "Writes stations to JSON lines files, exactly once; reads JSON lines or text files, following appends.",
		Author:      "Junction",
		License:     "Apache-2.0",
		Sink:        connector.NewSink(newSink),
		Source:      connector.NewSource(newSource),
	}
}

func main() {
	connector.Serve(definition())
}
