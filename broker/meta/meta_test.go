package meta

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestStationsGroupsOffsets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"orders", "orders2", "a"} {
		if err := s.PutStation(name, []byte("cfg-"+name)); err != nil {
			t.Fatal(err)
		}
		if err := s.PutGroup(name, "g", []byte("group-"+name)); err != nil {
			t.Fatal(err)
		}
		if err := s.CommitOffsets([]Offset{{name, "g", 0, 10}, {name, "g", 1, 20}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteStation("orders"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var names []string
	s.Stations(func(name string, v []byte) error {
		if string(v) != "cfg-"+name {
			t.Errorf("station %s value %q", name, v)
		}
		names = append(names, name)
		return nil
	})
	if len(names) != 2 || names[0] != "a" || names[1] != "orders2" {
		t.Fatalf("stations after delete = %v, want [a orders2]", names)
	}
	var groups []string
	s.Groups("orders", func(g string, v []byte) error { groups = append(groups, g); return nil })
	if len(groups) != 0 {
		t.Fatalf("groups of deleted station survived: %v", groups)
	}
	offs, err := s.Offsets("orders2", "g")
	if err != nil {
		t.Fatal(err)
	}
	if offs[0] != 10 || offs[1] != 20 || len(offs) != 2 {
		t.Fatalf("offsets = %v", offs)
	}
	if offs, _ := s.Offsets("orders", "g"); len(offs) != 0 {
		t.Fatalf("offsets of deleted station survived: %v", offs)
	}
	if err := s.DeleteGroup("orders2", "g"); err != nil {
		t.Fatal(err)
	}
	if offs, _ := s.Offsets("orders2", "g"); len(offs) != 0 {
		t.Fatalf("offsets of deleted group survived: %v", offs)
	}
}

func TestLockedByAnotherOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := Open(path, 0); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: err = %v, want ErrLocked", err)
	}
}

func TestConnectorsAndCheckpoints(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "meta.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.PutConnector("c", []byte("def")); err != nil {
		t.Fatal(err)
	}
	if cp, err := s.Checkpoint("c"); err != nil || cp != nil {
		t.Fatalf("checkpoint before any = %q, %v", cp, err)
	}
	if err := s.PutCheckpoint("c", []byte("pos-1")); err != nil {
		t.Fatal(err)
	}
	if cp, _ := s.Checkpoint("c"); string(cp) != "pos-1" {
		t.Fatalf("checkpoint = %q", cp)
	}
	var names []string
	s.Connectors(func(name string, v []byte) error { names = append(names, name+"="+string(v)); return nil })
	if len(names) != 1 || names[0] != "c=def" {
		t.Fatalf("connectors = %v", names)
	}
	if err := s.DeleteConnector("c"); err != nil {
		t.Fatal(err)
	}
	if cp, _ := s.Checkpoint("c"); cp != nil {
		t.Fatalf("checkpoint survived delete: %q", cp)
	}
}
