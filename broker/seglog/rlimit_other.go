//go:build !unix

package seglog

// openFileLimit returns a conservative open file budget where the process
// limit cannot be read.
func openFileLimit() int { return 1 << 12 }
