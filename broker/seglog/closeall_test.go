package seglog

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/junctionhq/junction/broker/vfs"
)

// syncerFS is a filesystem that can be synced as a whole, recording the
// state-file operations and syncs it sees in order.
type syncerFS struct {
	vfs.FS
	rec *opRecorder
	err error // returned by every SyncFS
}

func (s syncerFS) SyncDir(dir string) error { return vfs.SyncDir(s.FS, dir) }

func (s syncerFS) SyncFS(dirs []string) error {
	s.rec.add(fmt.Sprintf("syncfs %d", len(dirs)))
	return s.err
}

type opRecorder struct {
	mu  sync.Mutex
	ops []string
}

func (r *opRecorder) add(op string) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

func (r *opRecorder) MaybeError(op vfs.Op) error {
	if strings.Contains(op.Path, stateName) || op.Kind == vfs.OpSyncDir {
		switch op.Kind {
		case vfs.OpWrite, vfs.OpSync, vfs.OpRename, vfs.OpSyncDir:
			r.add(op.Kind.String())
		}
	}
	return nil
}

// summary collapses runs of the same operation, "write x3", in order if
// ordered, else sorted by operation (for logs closed concurrently).
func (r *opRecorder) summary(ordered bool) string {
	r.mu.Lock()
	ops := slices.Clone(r.ops)
	r.mu.Unlock()
	if !ordered {
		slices.Sort(ops)
	}
	var out []string
	for i := 0; i < len(ops); {
		j := i
		for j < len(ops) && ops[j] == ops[i] {
			j++
		}
		out = append(out, fmt.Sprintf("%s x%d", ops[i], j-i))
		i = j
	}
	return strings.Join(out, ", ")
}

// TestCloseAll closes logs of which some took appends and one is already
// closed, and checks what each reopened log knows of its high-water mark,
// and in which order the state files were made durable.
func TestCloseAll(t *testing.T) {
	type fsCase struct {
		name string
		fs   func(t *testing.T, rec *opRecorder) vfs.FS
		dir  func(t *testing.T) string
		// The state-file operations CloseAll does: in order when the
		// filesystem is synced as a whole, else sorted.
		want string
	}
	mem := func(t *testing.T) string { return "/logs" }
	cases := []fsCase{
		{"synced as a whole", func(t *testing.T, rec *opRecorder) vfs.FS {
			return syncerFS{FS: vfs.NewErrorFS(vfs.NewMem(), rec), rec: rec}
		}, mem, "write x3, syncfs 3 x1, rename x3, syncfs 3 x1"},
		{"sync fails", func(t *testing.T, rec *opRecorder) vfs.FS {
			return syncerFS{FS: vfs.NewErrorFS(vfs.NewMem(), rec), rec: rec, err: errors.New("injected")}
		}, mem, "rename x3, sync x3, syncdir x3, syncfs 3 x1, write x6"},
		{"file by file", func(t *testing.T, rec *opRecorder) vfs.FS {
			return vfs.NewErrorFS(vfs.NewMem(), rec)
		}, mem, "rename x3, sync x3, syncdir x3, write x3"},
	}
	if runtime.GOOS == "linux" {
		cases = append(cases, fsCase{"host", func(*testing.T, *opRecorder) vfs.FS { return vfs.OS }, func(t *testing.T) string { return t.TempDir() }, ""})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &opRecorder{}
			fsys, root := c.fs(t, rec), c.dir(t)
			opts := make([]Options, 5)
			logs := make([]*Log, len(opts))
			for i := range opts {
				opts[i] = Options{FS: fsys, Dir: filepath.Join(root, fmt.Sprint(i)), Logger: quiet}
				logs[i] = mustOpen(t, opts[i])
				for range i {
					mustAppend(t, logs[i], recs("m", 3, 0))
				}
			}
			// logs[0] took no append, logs[1] is closed already.
			if err := logs[1].Close(); err != nil {
				t.Fatal(err)
			}
			if c.want != "" {
				rec.mu.Lock()
				rec.ops = nil
				rec.mu.Unlock()
			}
			errs := CloseAll(logs)
			for i, err := range errs {
				if want := error(nil); i == 1 {
					if !errors.Is(err, ErrClosed) {
						t.Errorf("log 1, closed before: %v, want ErrClosed", err)
					}
				} else if err != want {
					t.Errorf("log %d: %v", i, err)
				}
			}
			if c.want != "" {
				if got := rec.summary(c.name == "synced as a whole"); got != c.want {
					t.Errorf("state file operations:\n got  %s\n want %s", got, c.want)
				}
			}
			for i := range opts {
				l := mustOpen(t, opts[i])
				if got, want := l.Status().HighWaterMark, uint64(3*i); got != want || l.NextOffset() != want {
					t.Errorf("log %d reopened: high-water mark %d, next offset %d; want %d", i, got, l.NextOffset(), want)
				}
				l.Close()
			}
		})
	}
}
