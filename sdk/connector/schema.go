package connector

import "github.com/junctionhq/junction/sdk/protocol"

// Schema is the version of a schema attached to a sink's station (see
// SinkInfo.Schema). Records validated against it carry a
// junction-schema: Name@Version header.
type Schema = protocol.Schema

// SchemaFile is one file of a Schema.
type SchemaFile = protocol.SchemaFile

// HeaderSchema is the record header naming the schema version a record
// was validated against, as NAME@VERSION.
const HeaderSchema = protocol.HeaderSchema
