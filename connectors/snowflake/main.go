// Command snowflake is Junction's Snowflake connector.
//
// As a sink it loads each batch with one INSERT ... SELECT FROM
// TABLE(FLATTEN(INPUT => PARSE_JSON(?))) per few MiB, the batch bound as one
// JSON array, into a table laid out as Snowflake's Kafka connector does
// (RECORD_METADATA and RECORD_CONTENT VARIANT columns) or with one column
// per top-level JSON field. It is exactly once: every batch's rows and the
// next offset of each partition it covers (in a small offsets table) are
// committed in one Snowflake transaction, and Open reads the offsets table
// back, so the broker resumes exactly after what the table holds, whether
// the plugin crashed or a COMMIT reply was lost.
//
// As a source it reads a table (or a query) incrementally in the order of
// one or more unique, increasing columns, a page at a time, and resumes
// after the last ordering value it delivered.
//
// Authentication is by key pair (a JWT signed with the user's RSA key, the
// recommended way) or password. Run it with --spec to print its
// configuration fields.
package main

import "github.com/junctionhq/junction/sdk/connector"

func definition() connector.Definition {
	return connector.Definition{
		Name:        "snowflake",
		Version:     "1.0.0",
		Description: "Loads stations into Snowflake tables exactly once (VARIANT or one column per JSON field); reads tables incrementally by an ordering column.",
		Author:      "Junction",
		License:     "Apache-2.0",
		Sink:        connector.NewSink(newSink),
		Source:      connector.NewSource(newSource),
		// The driver's OCSP cache directory and the proxy settings it honours.
		Env: []string{"SF_OCSP_RESPONSE_CACHE_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"},
	}
}

func main() {
	connector.Serve(definition())
}
