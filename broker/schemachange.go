package broker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/junctionhq/junction/broker/schema"
)

// SchemaOp is the kind of a SchemaChange.
type SchemaOp string

// Schema registry changes.
const (
	// OpCreateSchema registers a schema with its version 1; it fails with
	// ErrSchemaExists when the name is taken.
	OpCreateSchema SchemaOp = "create"
	// OpAddSchemaVersion adds the next version of a schema, which must
	// still be the one created at CreatedAt and hold every earlier
	// version.
	OpAddSchemaVersion SchemaOp = "version"
	// OpDeleteSchema deletes a schema no station has attached.
	OpDeleteSchema SchemaOp = "delete"
	// OpReplaceSchema makes a schema hold exactly the versions given,
	// whatever it held before (a cluster node restoring a snapshot).
	OpReplaceSchema SchemaOp = "replace"
)

// SchemaChange is a change to the schema registry, checked (definitions
// compiled, compatibility verified) before it is made, as replicated
// through a cluster. It is JSON-encodable and applying it depends only on
// the registry and the stations, so every node applying the same changes
// in the same order holds the same registry.
type SchemaChange struct {
	Op            SchemaOp             `json:"op"`
	Name          string               `json:"name"`
	Type          schema.Type          `json:"type,omitempty"`
	Compatibility schema.Compatibility `json:"compatibility,omitempty"`
	// CreatedAt is when the schema was created.
	CreatedAt time.Time `json:"created_at,omitzero"`
	// Versions are the versions to store: version 1 for create, the next
	// one for version, all of them for replace.
	Versions []SchemaVersion `json:"versions,omitempty"`
}

// SchemaReplicator is implemented by a Replicator that replicates the
// schema registry: schema changes then go through it to every node, which
// applies them through ApplySchemaChange. Without it schemas are local to
// the node.
type SchemaReplicator interface {
	// ReplicateSchema agrees on a schema change with the cluster and
	// returns once it is applied here, with what ApplySchemaChange
	// returned.
	ReplicateSchema(ctx context.Context, c SchemaChange) error
}

// changeSchema makes a schema change, through the cluster when there is
// one.
func (b *Broker) changeSchema(ctx context.Context, c SchemaChange) error {
	if r, ok := b.opts.Replicator.(SchemaReplicator); ok {
		return r.ReplicateSchema(ctx, c)
	}
	return b.ApplySchemaChange(ctx, c)
}

// ApplySchemaChange applies a schema change the cluster agreed on to this
// node, bypassing the Replicator.
func (b *Broker) ApplySchemaChange(ctx context.Context, c SchemaChange) error {
	r, err := b.registry()
	if err != nil {
		return err
	}
	switch c.Op {
	case OpCreateSchema, OpAddSchemaVersion, OpReplaceSchema:
		return b.applySchemaVersions(r, c)
	case OpDeleteSchema:
		return b.deleteSchemaLocal(r, c.Name)
	}
	return fmt.Errorf("schema %q: unknown schema change %q", c.Name, c.Op)
}

func (b *Broker) applySchemaVersions(r *registry, c SchemaChange) error {
	if len(c.Versions) == 0 {
		return fmt.Errorf("schema %q: %s without versions", c.Name, c.Op)
	}
	for i, v := range c.Versions[1:] {
		if v.Version != c.Versions[i].Version+1 {
			return fmt.Errorf("schema %q: version %d follows version %d", c.Name, v.Version, c.Versions[i].Version)
		}
	}
	rec := schemaRecord{Type: c.Type, Compatibility: c.Compatibility, CreatedAt: c.CreatedAt}
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.subjects[c.Name]
	switch c.Op {
	case OpCreateSchema:
		if cur != nil {
			return fmt.Errorf("schema %q: %w", c.Name, ErrSchemaExists)
		}
		if c.Versions[0].Version != 1 {
			return fmt.Errorf("schema %q: created at version %d, not 1", c.Name, c.Versions[0].Version)
		}
	case OpAddSchemaVersion:
		if cur == nil {
			return fmt.Errorf("schema %q: %w", c.Name, ErrSchemaNotFound)
		}
		if !cur.rec.CreatedAt.Equal(c.CreatedAt) || len(c.Versions) != 1 || int(c.Versions[0].Version) != len(cur.versions)+1 {
			return fmt.Errorf("schema %q changed during the update; run it again", c.Name)
		}
	case OpReplaceSchema:
		if c.Versions[0].Version != 1 {
			return fmt.Errorf("schema %q: replaced from version %d, not 1", c.Name, c.Versions[0].Version)
		}
		if cur != nil {
			if err := b.meta.DeleteSchema(c.Name); err != nil {
				return fmt.Errorf("schema %q: delete metadata: %w", c.Name, err)
			}
			delete(r.subjects, c.Name)
			cur = nil
		}
	}
	s := &subject{name: c.Name, rec: rec}
	for _, v := range c.Versions {
		if err := b.putSchemaVersion(s, v); err != nil {
			return err
		}
	}
	if cur == nil {
		cur = &subject{name: c.Name}
		r.subjects[c.Name] = cur
	}
	cur.rec = rec
	for _, v := range c.Versions {
		cur.versions = append(cur.versions, newCompiledVersion(c.Name, v))
	}
	return nil
}

// SchemaChanges returns the registry as changes that recreate it: one
// OpReplaceSchema per schema, by name.
func (b *Broker) SchemaChanges() ([]SchemaChange, error) {
	r, err := b.registry()
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]SchemaChange, 0, len(r.subjects))
	for _, s := range r.subjects {
		c := SchemaChange{Op: OpReplaceSchema, Name: s.name, Type: s.rec.Type, Compatibility: s.rec.Compatibility, CreatedAt: s.rec.CreatedAt}
		for _, cv := range s.versions {
			c.Versions = append(c.Versions, cv.v)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y SchemaChange) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}
