//go:build !unix

package main

// privateCacheDir has no safe choice to offer here; the driver picks its
// own cache directory.
func privateCacheDir() string { return "" }
