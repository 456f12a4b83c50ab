package protocol

import pb "github.com/junctionhq/junction/sdk/proto/connectorv1"

// Schema is the version of a schema attached to a sink's station. Records
// validated against it carry a junction-schema: Name@Version header.
type Schema struct {
	Name    string
	Version uint32
	// Type is json, avro, protobuf or graphql.
	Type string
	// Files hold the schema text: one file, or for protobuf the .proto
	// files (named by import path) or one binary FileDescriptorSet.
	Files []SchemaFile
	// Message is the protobuf message records encode.
	Message string
}

// SchemaFile is one file of a Schema.
type SchemaFile struct {
	Name    string
	Content []byte
}

// HeaderSchema is the record header naming the schema version a record
// was validated against, as NAME@VERSION.
const HeaderSchema = "junction-schema"

// SchemaToPB is s on the wire; nil stays nil.
func SchemaToPB(s *Schema) *pb.Schema {
	if s == nil {
		return nil
	}
	p := &pb.Schema{Name: s.Name, Version: s.Version, Type: s.Type, Message: s.Message}
	for _, f := range s.Files {
		p.Files = append(p.Files, &pb.SchemaFile{Name: f.Name, Content: f.Content})
	}
	return p
}

// SchemaFromPB is the Schema a wire message carries; nil stays nil.
func SchemaFromPB(p *pb.Schema) *Schema {
	if p == nil {
		return nil
	}
	s := &Schema{Name: p.GetName(), Version: p.GetVersion(), Type: p.GetType(), Message: p.GetMessage()}
	for _, f := range p.GetFiles() {
		s.Files = append(s.Files, SchemaFile{Name: f.GetName(), Content: f.GetContent()})
	}
	return s
}
