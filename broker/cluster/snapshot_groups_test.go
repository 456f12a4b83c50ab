package cluster

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker/meta"
)

func openGroupStore(t *testing.T) *meta.Store {
	t.Helper()
	s, err := meta.Open(filepath.Join(t.TempDir(), "meta.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestGroupsSnapshotRoundTrip restores a snapshot of one group store onto
// another holding stale state: the result matches the source exactly.
func TestGroupsSnapshotRoundTrip(t *testing.T) {
	src, dst := openGroupStore(t), openGroupStore(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(src.PutGroup("orders", "billing", []byte(`{"a":1}`)))
	must(src.PutGroup("orders", "audit", []byte(`{"b":2}`)))
	must(src.CommitOffsets([]meta.Offset{
		{Station: "orders", Group: "billing", Partition: 0, Offset: 40},
		{Station: "orders", Group: "billing", Partition: 1, Offset: 7},
	}, meta.Deliveries{Station: "orders", Group: "billing", Counts: []meta.DeliveryCount{{Partition: 0, Offset: 40, Count: 3}}}))

	// Stale: a group gone from the source, a partition the source's
	// billing group never committed, and delivery counts on audit.
	must(dst.PutGroup("orders", "gone", []byte(`{}`)))
	must(dst.PutGroup("orders", "billing", []byte(`{"old":true}`)))
	must(dst.CommitOffsets([]meta.Offset{
		{Station: "orders", Group: "billing", Partition: 5, Offset: 99},
		{Station: "orders", Group: "gone", Partition: 0, Offset: 1},
	}, meta.Deliveries{Station: "orders", Group: "audit", Counts: []meta.DeliveryCount{{Partition: 1, Offset: 2, Count: 9}}}))

	list, err := (&Node{groups: src}).snapshotGroups([]string{"orders"})
	must(err)
	must((&Node{groups: dst}).restoreGroups([]string{"orders"}, list))

	dump := func(s *meta.Store) map[string]string {
		out := map[string]string{}
		must(s.Groups("orders", func(g string, v []byte) error {
			offs, err := s.Offsets("orders", g)
			if err != nil {
				return err
			}
			dc, err := s.DeliveryCounts("orders", g)
			if err != nil {
				return err
			}
			out[g] = string(v)
			for _, p := range slices.Sorted(maps.Keys(offs)) {
				out[g] += fmt.Sprintf(" p%d=%d", p, offs[p])
			}
			for _, d := range dc {
				out[g] += fmt.Sprintf(" delivered p%d@%d x%d", d.Partition, d.Offset, d.Count)
			}
			return nil
		}))
		return out
	}
	want, got := dump(src), dump(dst)
	if !maps.Equal(want, got) {
		t.Errorf("restored group store:\n got %v\nwant %v", got, want)
	}
}

func TestGroupsRestoreRefusesStrangers(t *testing.T) {
	dst := openGroupStore(t)
	n := &Node{groups: dst}
	for _, g := range []manifestGroup{
		{Station: "elsewhere", Name: "g", Record: []byte(`{}`)},
		{Station: "orders", Name: "bad/name", Record: []byte(`{}`)},
	} {
		if err := n.restoreGroups([]string{"orders"}, []manifestGroup{g}); err == nil {
			t.Errorf("restored group %q of station %q", g.Name, g.Station)
		}
	}
	if err := dst.Groups("orders", func(g string, _ []byte) error {
		t.Errorf("group %q written", g)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
