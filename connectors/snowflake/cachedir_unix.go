//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// privateCacheDir returns a directory only this user can use, for the
// driver's OCSP response cache, or "" if there is none: without HOME (the
// plugin host starts plugins with a clean environment) the driver would
// create .cache/snowflake in the working directory.
func privateCacheDir() string {
	dir := filepath.Join(os.TempDir(), "junction-snowflake-"+strconv.Itoa(os.Getuid()))
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return ""
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		return ""
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Getuid() {
		return ""
	}
	return dir
}
