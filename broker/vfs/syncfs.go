package vfs

// FSSyncer is implemented by filesystems that can make everything written
// to them durable at once, cheaper than an fsync per file when many small
// files change together. Use [SyncFS] rather than asserting it directly.
type FSSyncer interface {
	// SyncFS makes every file written and every directory entry created,
	// renamed or removed on the filesystems holding dirs durable, as an
	// fsync of each of them and of their directories would.
	SyncFS(dirs []string) error
}

// SyncFS makes everything written on the filesystems holding dirs durable
// if fsys supports it (see [FSSyncer]) and reports false otherwise, in
// which case the caller must fsync files and directories one by one.
func SyncFS(fsys FS, dirs []string) (ok bool, err error) {
	s, ok := fsys.(FSSyncer)
	if !ok {
		return false, nil
	}
	return true, s.SyncFS(dirs)
}
