package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/junctionhq/junction/broker"
)

// kindSchema is a change to the schema registry (a broker.SchemaChange,
// JSON). Attaching and detaching a station's schema are station changes.
const kindSchema byte = 8

var _ broker.SchemaReplicator = (*Node)(nil)

// ReplicateSchema implements broker.SchemaReplicator: the change is
// applied on every node, and on this one before it returns.
func (n *Node) ReplicateSchema(ctx context.Context, c broker.SchemaChange) error {
	if err := n.notLeader(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := encodeJSON(kindSchema, c)
	if err != nil {
		return err
	}
	_, err = n.apply(data)
	return err
}

// applySchemaChange applies a kindSchema entry to the local registry.
// A change applied before a restart is skipped rather than replayed.
func (f *fsm) applySchemaChange(data []byte, index uint64) error {
	idx := f.n.applied("schemas")
	if idx.done(index) {
		return nil
	}
	var c broker.SchemaChange
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("%w: schema change: %w", errBadEntry, err)
	}
	if err := f.b.ApplySchemaChange(context.Background(), c); err != nil {
		return err
	}
	idx.advance(f.n, index)
	return nil
}

// restoreSchemas makes the local registry hold what a snapshot lists,
// and each station the schema the snapshot attaches to it: schemas are
// written first, attachments follow, and schemas the snapshot lacks go
// last, once no station uses them.
func (n *Node) restoreSchemas(b *broker.Broker, m manifest) error {
	ctx := context.Background()
	have, err := b.SchemaChanges()
	if err != nil {
		return fmt.Errorf("cluster: restore schemas: %w", err)
	}
	local := make(map[string]broker.SchemaChange, len(have))
	for _, c := range have {
		local[c.Name] = c
	}
	want := make(map[string]bool, len(m.Schemas))
	for _, c := range m.Schemas {
		want[c.Name] = true
		if l, ok := local[c.Name]; ok && sameSchema(l, c) {
			continue
		}
		c.Op = broker.OpReplaceSchema
		if err := b.ApplySchemaChange(ctx, c); err != nil {
			return fmt.Errorf("cluster: restore schema %q: %w", c.Name, err)
		}
	}
	for _, s := range m.Stations {
		cfg, _, err := b.Station(s.Config.Name)
		if err != nil {
			return fmt.Errorf("cluster: restore station %q schema: %w", s.Config.Name, err)
		}
		if reflect.DeepEqual(cfg.Schema, s.Config.Schema) {
			continue
		}
		c := broker.StationChange{Op: broker.OpDetachSchema, Name: s.Config.Name}
		if s.Config.Schema != nil {
			c = broker.StationChange{Op: broker.OpAttachSchema, Name: s.Config.Name, Schema: s.Config.Schema}
		}
		if _, err := b.ApplyStationChange(ctx, c); err != nil {
			return fmt.Errorf("cluster: restore station %q schema: %w", s.Config.Name, err)
		}
	}
	for name := range local {
		if want[name] {
			continue
		}
		if err := b.ApplySchemaChange(ctx, broker.SchemaChange{Op: broker.OpDeleteSchema, Name: name}); err != nil {
			return fmt.Errorf("cluster: restore: drop schema %q: %w", name, err)
		}
	}
	return nil
}

// sameSchema reports whether two replace changes describe the same
// schema: versions never change once stored, so the same creation and
// number of versions mean the same versions.
func sameSchema(a, b broker.SchemaChange) bool {
	return a.CreatedAt.Equal(b.CreatedAt) && a.Type == b.Type && a.Compatibility == b.Compatibility && len(a.Versions) == len(b.Versions)
}
