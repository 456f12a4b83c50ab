// Command s3 is Junction's S3 connector, for AWS S3 and S3-compatible stores
// such as MinIO.
//
// As a sink it writes each station partition to objects named after the
// offsets they hold (JSON lines, raw lines or Parquet, optionally gzip or
// zstd), exactly once: records are buffered per partition and uploaded when
// a flush threshold is reached, and on Open the sink lists the objects under
// its prefix and tells the broker the next offset after the highest one
// already in the bucket, so the broker rewinds to it and everything acked
// but not yet uploaded is delivered again. Replays write the same keys.
//
// As a source it reads the objects under a prefix in key order, one record
// per line or Parquet row, polling for new objects, and resumes exactly from
// its position (key, byte or row offset, ETag) after a restart.
//
// Run it with --spec to print its configuration fields.
package main

import "github.com/junctionhq/junction/sdk/connector"

func definition() connector.Definition {
	return connector.Definition{
		Name:        "s3",
		Version:     "1.0.0",
		Description: "Writes stations to S3 objects (JSON lines, lines or Parquet) exactly once; reads objects under a prefix, resuming exactly.",
		Author:      "Junction",
		License:     "Apache-2.0",
		Sink:        connector.NewSink(newSink),
		Source:      connector.NewSource(newSource),
		// The AWS SDK's default chain reads AWS_REGION, AWS_PROFILE,
		// AWS_ACCESS_KEY_ID, AWS_CA_BUNDLE, AWS_SHARED_CREDENTIALS_FILE and
		// the rest of AWS_*.
		Env: []string{"AWS_*"},
	}
}

func main() {
	connector.Serve(definition())
}
