package meta

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fillStore(t *testing.T, path string) {
	t.Helper()
	s, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		name := fmt.Sprintf("station-%03d", i)
		if err := s.PutStation(name, []byte(`{"name":"`+name+`"}`)); err != nil {
			t.Fatal(err)
		}
		if err := s.PutGroup(name, "g", []byte("group")); err != nil {
			t.Fatal(err)
		}
		if err := s.CommitOffsets([]Offset{{name, "g", 0, uint64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutConnector("c", []byte("def")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// readAll reads every record through the Store's API; it must never panic.
func readAll(s *Store) error {
	var stations []string
	err := s.Stations(func(name string, _ []byte) error { stations = append(stations, name); return nil })
	for _, st := range stations {
		err = errors.Join(err, s.Groups(st, func(string, []byte) error { return nil }))
		_, oerr := s.Offsets(st, "g")
		err = errors.Join(err, oerr)
	}
	return errors.Join(err, s.Connectors(func(string, []byte) error { return nil }))
}

// TestCorruptFileNeverPanics is the regression test for a damaged meta.db
// that made bbolt panic (invalid freelist page) with a goroutine trace:
// damage in every page of the file must give an error naming the file and
// what to do, or a store that reads without panicking.
func TestCorruptFileNeverPanics(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	fillStore(t, good)
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	corrupt := 0
	for p := 0; p < len(orig)/page; p++ {
		for _, off := range []int{8, 16, 300, 2000} {
			b := append([]byte(nil), orig...)
			b[p*page+off] ^= 0xA5
			path := filepath.Join(dir, fmt.Sprintf("p%d-%d.db", p, off))
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, 0)
			if err != nil {
				if errors.Is(err, ErrCorrupt) {
					corrupt++
					if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "--recover-meta") {
						t.Fatalf("page %d byte %d: error does not name the file and the remedy: %v", p, off, err)
					}
				}
				continue
			}
			_ = readAll(s)
			_ = s.Close()
			os.Remove(path)
		}
	}
	if corrupt == 0 {
		t.Fatal("no damage was reported as corruption")
	}
	t.Logf("%d of %d damaged files reported as corrupt", corrupt, len(orig)/page*4)

	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a bolt file ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(garbage, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of a garbage file = %v, want ErrCorrupt", err)
	}
}

func TestRebuildKeepsWhatItCan(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "meta.db")
	fillStore(t, path)
	s, rep, err := Rebuild(path, Keep{
		Station: func(name string, _ []byte) error {
			if name == "station-007" {
				return errors.New("invalid")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rep.Stations != 199 || rep.Groups != 199 || rep.Offsets != 199 || rep.Connectors != 1 || len(rep.Dropped) != 3 {
		t.Fatalf("report %+v", rep)
	}
	if _, err := os.Stat(rep.Aside); err != nil {
		t.Fatalf("damaged file not kept aside: %v", err)
	}
	if offs, err := s.Offsets("station-042", "g"); err != nil || offs[0] != 42 {
		t.Fatalf("offsets %v, %v", offs, err)
	}

	// A file that cannot be opened at all still yields a fresh store.
	s.Close()
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, rep, err = Rebuild(path, Keep{})
	if err != nil || rep.Stations != 0 || len(rep.Dropped) != 1 {
		t.Fatalf("Rebuild of garbage = %+v, %v", rep, err)
	}
	s.Close()
}
