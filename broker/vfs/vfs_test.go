package vfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// testFS runs the same checks against every implementation.
func testFS(t *testing.T, fsys FS, dir string) {
	if err := fsys.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "a", "f")
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("O_EXCL on existing file: %v", err)
	}
	for _, s := range []string{"hello ", "world"} {
		if _, err := f.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(8); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("!")); err != nil { // appends at the new end
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 20)
	n, err := f.ReadAt(buf, 0)
	if n != 9 || !errors.Is(err, io.EOF) || string(buf[:n]) != "hello wo!" {
		t.Fatalf("ReadAt = %d %q %v", n, buf[:n], err)
	}
	if st, err := f.Stat(); err != nil || st.Size() != 9 || st.IsDir() {
		t.Fatalf("Stat = %v %v", st, err)
	}
	if err := SyncDir(fsys, filepath.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}

	// A removed file stays readable through an open handle.
	if err := fsys.Remove(name); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Stat(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat after Remove: %v", err)
	}
	if n, _ := f.ReadAt(buf[:5], 0); n != 5 || string(buf[:5]) != "hello" {
		t.Fatalf("read after remove: %q", buf[:n])
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	g, err := fsys.OpenFile(filepath.Join(dir, "a", "g"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = g.Write([]byte("x"))
	_ = g.Close()
	if err := fsys.Rename(filepath.Join(dir, "a", "g"), filepath.Join(dir, "a", "b", "h")); err != nil {
		t.Fatal(err)
	}
	ents, err := fsys.ReadDir(filepath.Join(dir, "a"))
	if err != nil || len(ents) != 1 || ents[0].Name() != "b" || !ents[0].IsDir() {
		t.Fatalf("ReadDir = %v %v", ents, err)
	}
	if _, err := fsys.OpenFile(filepath.Join(dir, "nope", "x"), os.O_RDWR|os.O_CREATE, 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("create in missing dir: %v", err)
	}
	if err := fsys.RemoveAll(filepath.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Stat(filepath.Join(dir, "a", "b", "h")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after RemoveAll: %v", err)
	}
}

func TestOS(t *testing.T)  { testFS(t, OS, t.TempDir()) }
func TestMem(t *testing.T) { testFS(t, NewMem(), "/data") }

func TestErrorFS(t *testing.T) {
	mem := NewMem()
	efs := NewErrorFS(mem, FailNth(OpWrite, 2, ShortWrite(3, syscall.ENOSPC)))
	testFS(t, NewErrorFS(NewMem(), InjectorFunc(func(Op) error { return nil })), "/pass")

	f, err := efs.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	n, err := f.Write([]byte("defgh"))
	if n != 3 || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("torn write = %d, %v", n, err)
	}
	if _, err := f.Write([]byte("!")); err != nil {
		t.Fatalf("only the 2nd write fails: %v", err)
	}
	buf := make([]byte, 7)
	if _, err := f.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, []byte("abcdef!")) {
		t.Fatalf("contents %q %v", buf, err)
	}

	efs = NewErrorFS(mem, InjectorFunc(func(op Op) error {
		if op.Kind == OpSync && op.Path == "/f" {
			return syscall.EIO
		}
		return nil
	}))
	f2, err := efs.OpenFile("/f", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f2.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync = %v", err)
	}
	if OpSync.String() != "sync" || OpKind(99).String() != "OpKind(99)" {
		t.Fatal("OpKind names")
	}
}
