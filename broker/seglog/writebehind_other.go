//go:build !linux

package seglog

import "github.com/junctionhq/junction/broker/vfs"

// fileRangeWriteback is rangeWriteback where the platform has no ranged
// write-back: write-behind turns itself off.
func fileRangeWriteback(vfs.File, int64, int64, bool) error { return errNoWriteBehind }
