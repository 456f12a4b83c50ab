package meta

import (
	"path/filepath"
	"testing"
)

func TestSchemasAndReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Reading before any write finds nothing (the buckets do not exist yet).
	if err := s.Schemas(func(string, []byte, func(func(uint32, []byte) error) error) error {
		t.Fatal("unexpected schema")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Replay("x"); err != nil || v != nil {
		t.Fatalf("Replay = %q, %v", v, err)
	}
	for _, w := range []struct {
		name string
		v    uint32
	}{{"orders", 1}, {"orders", 2}, {"orders.v2", 1}, {"a", 300}} {
		if err := s.PutSchemaVersion(w.name, []byte("rec-"+w.name), w.v, []byte{byte(w.v)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutReplay("dlq\x000", []byte("c1")); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := map[string][]uint32{}
	err = s.Schemas(func(name string, rec []byte, versions func(func(uint32, []byte) error) error) error {
		if string(rec) != "rec-"+name {
			t.Errorf("%s: record %q", name, rec)
		}
		return versions(func(v uint32, _ []byte) error {
			got[name] = append(got[name], v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(got["orders"]) != 2 || got["orders"][1] != 2 || len(got["orders.v2"]) != 1 || got["a"][0] != 300 {
		t.Fatalf("got %v", got)
	}
	if err := s.DeleteSchema("orders"); err != nil {
		t.Fatal(err)
	}
	n := 0
	s.Schemas(func(name string, _ []byte, versions func(func(uint32, []byte) error) error) error {
		n++
		return versions(func(uint32, []byte) error {
			if name == "orders" {
				t.Error("versions of a deleted schema remain")
			}
			return nil
		})
	})
	if n != 2 {
		t.Fatalf("%d schemas after delete, want 2", n)
	}
	if v, _ := s.Replay("dlq\x000"); string(v) != "c1" {
		t.Fatalf("replay state %q", v)
	}
	if err := s.DeleteReplay("dlq\x00"); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Replay("dlq\x000"); v != nil {
		t.Fatalf("replay state %q after delete", v)
	}
}
