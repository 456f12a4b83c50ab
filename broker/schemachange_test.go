package broker

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/junctionhq/junction/broker/schema"
)

// TestSchemaChangesRecreateTheRegistry copies one broker's registry into
// another through SchemaChanges and ApplySchemaChange, as a cluster node
// installing a snapshot does, and checks that a version change made
// against a schema that was since recreated is refused.
func TestSchemaChangesRecreateTheRegistry(t *testing.T) {
	ctx := context.Background()
	src := openTest(t, t.TempDir())
	if _, _, err := src.CreateSchema(ctx, "orders", jsonSource(`{"type":"object"}`), schema.CompatNone); err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.UpdateSchema(ctx, "orders", jsonSource(`{"type":"object","properties":{"id":{"type":"integer"}}}`), ""); err != nil {
		t.Fatal(err)
	}
	changes, err := src.SchemaChanges()
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || len(changes[0].Versions) != 2 {
		t.Fatalf("changes: %+v", changes)
	}

	dst := openTest(t, t.TempDir())
	if _, _, err := dst.CreateSchema(ctx, "orders", jsonSource(`{"type":"string"}`), ""); err != nil {
		t.Fatal(err)
	}
	stale, err := dst.SchemaChanges()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if err := dst.ApplySchemaChange(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := dst.SchemaChanges()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, changes) {
		t.Fatalf("replaced registry:\n%+v\nwant\n%+v", got, changes)
	}

	// A version made against the schema dst had before is refused.
	next := stale[0]
	next.Op = OpAddSchemaVersion
	next.Versions[0].Version = 3
	if err := dst.ApplySchemaChange(ctx, next); err == nil || !strings.Contains(err.Error(), "changed during the update") {
		t.Fatalf("a version of a recreated schema: %v", err)
	}
}
