package seglog

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/junctionhq/junction/broker/vfs"
)

func TestFileRangeWritebackLinux(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "seg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 3<<20)); err != nil {
		t.Fatal(err)
	}
	if err := fileRangeWriteback(f, 0, 2<<20, false); err != nil {
		t.Fatalf("start write-back: %v", err)
	}
	if err := fileRangeWriteback(f, 0, 2<<20, true); err != nil {
		t.Fatalf("wait for write-back: %v", err)
	}
	mf, err := vfs.NewMem().OpenFile("/seg", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := fileRangeWriteback(mf, 0, 1, false); err != errNoWriteBehind {
		t.Fatalf("in-memory file: got %v, want errNoWriteBehind", err)
	}
}
