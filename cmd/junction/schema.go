package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/sdk/client"
)

func newSchemaCmd(a *app) *cobra.Command {
	cmd := groupCmd("schema", "Manage schemas that stations validate messages against")
	cmd.Long = `Manage the broker's schema registry. A schema (JSON Schema, Avro, Protobuf
or GraphQL) has numbered versions; each new version is checked against the
earlier ones under the schema's compatibility mode. Attach a schema to a
station with 'junction station attach-schema' and the broker validates every
message produced to it.`
	cmd.AddCommand(newSchemaCreateCmd(a), newSchemaUpdateCmd(a), newSchemaGetCmd(a), newSchemaListCmd(a), newSchemaDeleteCmd(a))
	return cmd
}

// definitionFlags are the flags that give a schema definition.
type definitionFlags struct {
	typ, message, compat, importPath string
	files                            []string
}

func (d *definitionFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&d.typ, "type", "t", "", "schema type: json, avro, protobuf or graphql (default: from the file extension)")
	f.StringArrayVarP(&d.files, "file", "f", nil, "schema `FILE` (repeat for .proto imports; - for stdin)")
	f.StringVarP(&d.message, "message", "m", "", "protobuf: the message payloads encode, such as shop.v1.Order")
	f.StringVarP(&d.compat, "compatibility", "c", "", "compatibility mode: none, backward, backward_transitive, forward, forward_transitive, full, full_transitive (default backward; none for graphql)")
	f.StringVarP(&d.importPath, "import-path", "I", "", "protobuf: name .proto files relative to `DIR`, as their imports do")
}

var extTypes = map[string]client.SchemaType{
	".json": client.SchemaJSON, ".avsc": client.SchemaAvro, ".proto": client.SchemaProtobuf,
	".binpb": client.SchemaProtobuf, ".pb": client.SchemaProtobuf, ".desc": client.SchemaProtobuf,
	".graphql": client.SchemaGraphQL, ".gql": client.SchemaGraphQL,
}

func (d *definitionFlags) definition(stdin io.Reader) (client.SchemaDefinition, client.Compatibility, error) {
	var def client.SchemaDefinition
	if len(d.files) == 0 {
		return def, "", usagef("--file is required")
	}
	compat := client.Compatibility(strings.ReplaceAll(strings.ToLower(d.compat), "-", "_"))
	typ := strings.ToLower(d.typ)
	switch typ {
	case "jsonschema", "json-schema":
		typ = "json"
	case "proto":
		typ = "protobuf"
	}
	def.Type = client.SchemaType(typ)
	if def.Type == "" {
		def.Type = extTypes[strings.ToLower(filepath.Ext(d.files[0]))]
		if def.Type == "" {
			return def, "", usagef("--type is required: the extension of %s does not say (json, avro, protobuf or graphql)", d.files[0])
		}
	}
	switch def.Type {
	case client.SchemaJSON, client.SchemaAvro, client.SchemaGraphQL:
		if len(d.files) != 1 {
			return def, "", usagef("a %s schema is one --file, got %d", def.Type, len(d.files))
		}
		if d.message != "" {
			return def, "", usagef("--message applies to protobuf schemas only")
		}
	case client.SchemaProtobuf:
		if d.message == "" {
			return def, "", usagef("--message is required for protobuf: the message payloads encode, such as shop.v1.Order")
		}
	default:
		return def, "", usagef("--type: must be json, avro, protobuf or graphql, got %q", d.typ)
	}
	def.Message = d.message
	for _, path := range d.files {
		var (
			b   []byte
			err error
		)
		if path == "-" {
			b, err = io.ReadAll(io.LimitReader(stdin, 1<<20+1))
		} else {
			b, err = os.ReadFile(path)
		}
		if err != nil {
			return def, "", err
		}
		name := filepath.ToSlash(filepath.Clean(path))
		if d.importPath != "" && path != "-" {
			rel, err := filepath.Rel(d.importPath, path)
			if err != nil || strings.HasPrefix(rel, "..") {
				return def, "", usagef("%s is not under --import-path %s", path, d.importPath)
			}
			name = filepath.ToSlash(rel)
		}
		def.Files = append(def.Files, client.SchemaFile{Name: name, Content: b})
	}
	return def, compat, nil
}

func newSchemaCreateCmd(a *app) *cobra.Command {
	var d definitionFlags
	cmd := &cobra.Command{
		Use:   "create NAME --file FILE [--type TYPE] [--message M] [--compatibility MODE]",
		Short: "Register a schema with its first version",
		Long: `Register a schema. JSON Schema validates JSON messages; Avro and Protobuf
validate their bare binary encoding (no framing); GraphQL validates GraphQL
operation documents. For Protobuf give the .proto files (with the files they
import, named as the imports name them: see --import-path) or one binary
descriptor set (protoc --include_imports --descriptor_set_out), and the
message name.`,
		Example: `  junction schema create orders --file order.schema.json
  junction schema create orders-avro --file order.avsc --compatibility full
  junction schema create orders-pb -I proto --file proto/shop/v1/order.proto --message shop.v1.Order
  junction schema create queries --type graphql --file schema.graphql`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			def, compat, err := d.definition(a.stdin)
			if err != nil {
				return err
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			s, v, err := c.CreateSchema(cmd.Context(), args[0], def, compat)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "schema %q created: version %d, %s, compatibility %s\n", s.Name, v.Version, s.Type, s.Compatibility)
			return nil
		},
	}
	d.add(cmd)
	return cmd
}

func newSchemaUpdateCmd(a *app) *cobra.Command {
	var d definitionFlags
	cmd := &cobra.Command{
		Use:   "update NAME --file FILE [--type TYPE] [--message M] [--compatibility MODE]",
		Short: "Add a new version of a schema",
		Long: `Add a new version of a schema. It is checked against the earlier versions
under the schema's compatibility mode (or --compatibility, which then becomes
the schema's mode) and refused with every breaking change listed when it is
not compatible. Stations that follow the latest version validate against it
from the next message on.`,
		Example: `  junction schema update orders --file order.v2.schema.json
  junction schema update orders --file order.v2.schema.json --compatibility none`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			def, compat, err := d.definition(a.stdin)
			if err != nil {
				return err
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			s, v, err := c.UpdateSchema(cmd.Context(), args[0], def, compat)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "schema %q: version %d added (compatibility %s)\n", s.Name, v.Version, s.Compatibility)
			return nil
		},
	}
	d.add(cmd)
	return cmd
}

type schemaGetJSON struct {
	Schema  *client.Schema        `json:"schema"`
	Version *client.SchemaVersion `json:"version"`
}

func newSchemaGetCmd(a *app) *cobra.Command {
	var version int
	cmd := &cobra.Command{
		Use:     "get NAME",
		Aliases: []string{"describe"},
		Short:   "Show a schema and one of its versions (the latest by default)",
		Example: `  junction schema get orders
  junction schema get orders --version 1 -o json`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if version < 0 {
				return usagef("--version must not be negative")
			}
			fetch := func(ctx context.Context, c *client.Client) (schemaGetJSON, error) {
				s, v, err := c.GetSchema(ctx, args[0], version)
				return schemaGetJSON{s, v}, err
			}
			return show(a, cmd, fetch, asIs[schemaGetJSON], describeSchema)
		},
	}
	cmd.Flags().IntVar(&version, "version", 0, "the version to show (default: the latest)")
	a.addOutputFlag(cmd)
	return cmd
}

func describeSchema(w io.Writer, g schemaGetJSON) error {
	s, v := g.Schema, g.Version
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("Name", s.Name)
	row("Type", string(s.Type))
	row("Compatibility", string(s.Compatibility))
	row("Versions", joinInts(s.Versions))
	row("Stations", orNone(strings.Join(s.Stations, ", ")))
	row("Version", fmt.Sprintf("%d (created %s)", v.Version, v.CreatedAt.Local().Format(time.RFC3339)))
	if v.Definition.Message != "" {
		row("Message", v.Definition.Message)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range v.Definition.Files {
		fmt.Fprintf(w, "\n--- %s\n", f.Name)
		if !isText(f.Content) {
			fmt.Fprintf(w, "(binary, %d bytes)\n", len(f.Content))
			continue
		}
		w.Write(f.Content)
		if n := len(f.Content); n > 0 && f.Content[n-1] != '\n' {
			fmt.Fprintln(w)
		}
	}
	return nil
}

func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x09 || (c > 0x0d && c < 0x20) {
			return false
		}
	}
	return true
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

func newSchemaListCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List schemas",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			fetch := func(ctx context.Context, c *client.Client) ([]*client.Schema, error) { return c.Schemas(ctx) }
			return show(a, cmd, fetch, asIs[[]*client.Schema], func(w io.Writer, ss []*client.Schema) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tTYPE\tCOMPATIBILITY\tLATEST\tSTATIONS")
				for _, s := range ss {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", s.Name, s.Type, s.Compatibility, s.LatestVersion, orNone(strings.Join(s.Stations, ",")))
				}
				return tw.Flush()
			})
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func newSchemaDeleteCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a schema and all its versions (refused while a station uses it)",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.DeleteSchema(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "schema %q deleted\n", args[0])
			return nil
		},
	}
}

func newStationAttachSchemaCmd(a *app) *cobra.Command {
	var onInvalid string
	cmd := &cobra.Command{
		Use:   "attach-schema STATION SCHEMA[@VERSION]",
		Short: "Validate every message produced to a station against a schema",
		Long: `Attach a schema to a station: the broker validates every produced message
against it before storing it and stamps stored messages with a
junction-schema: NAME@VERSION header. Without @VERSION (or with @latest) the
station follows the schema's latest version.

--on-invalid reject (the default) fails an invalid message back to its
producer, naming the message, the failing path and the rule; the valid
messages of the same batch are stored. --on-invalid dead-letter stores it on
the station's dead-letter station instead, with the error in its headers.`,
		Example: `  junction station attach-schema orders orders
  junction station attach-schema orders orders@2 --on-invalid dead-letter`,
		Args: exactArgs("STATION", "SCHEMA[@VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, ver, _ := strings.Cut(args[1], "@")
			s := client.StationSchema{Name: name, OnInvalid: client.OnInvalid(onInvalid)}
			if ver != "" && ver != "latest" {
				n, err := strconv.Atoi(ver)
				if err != nil || n < 1 {
					return usagef("version in %q: want a positive number or latest", args[1])
				}
				s.Version = n
			}
			if s.OnInvalid != client.OnInvalidReject && s.OnInvalid != client.OnInvalidDeadLetter {
				return usagef("--on-invalid: must be reject or dead-letter, got %q", onInvalid)
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.AttachSchema(cmd.Context(), args[0], s)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "station %q validates against %s (on invalid: %s)\n", st.Name, stationSchemaText(st.Schema), st.Schema.OnInvalid)
			return nil
		},
	}
	cmd.Flags().StringVar(&onInvalid, "on-invalid", string(client.OnInvalidReject), "what to do with an invalid message: reject or dead-letter")
	return cmd
}

func newStationDetachSchemaCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "detach-schema STATION",
		Short: "Stop validating messages produced to a station",
		Args:  exactArgs("STATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.DetachSchema(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "station %q no longer validates messages\n", st.Name)
			return nil
		},
	}
}

// stationSchemaText is how a station's schema shows: NAME@VERSION or
// NAME@latest.
func stationSchemaText(s *client.StationSchema) string {
	if s == nil {
		return "none"
	}
	if s.Version == 0 {
		return s.Name + "@latest"
	}
	return s.Name + "@" + strconv.Itoa(s.Version)
}

// schemaRef is the schema part of a station's -o json form.
type schemaRef = client.StationSchema
