package seglog

import (
	"errors"
	"io/fs"
)

var (
	// ErrClosed is returned by operations on a closed Log.
	ErrClosed = errors.New("seglog: log closed")

	// ErrOffsetOutOfRange is returned by Read for an offset below
	// StartOffset (deleted by retention) or above NextOffset. The caller
	// should reset its position, typically to StartOffset or NextOffset.
	ErrOffsetOutOfRange = errors.New("seglog: offset out of range")

	// ErrCorrupt is the class of errors reporting corrupt or torn data. Test
	// with errors.Is(err, ErrCorrupt) or IsCorruption(err).
	ErrCorrupt = errors.New("seglog: corrupt data")

	// ErrEmptyAppend is returned by Append when given no records.
	ErrEmptyAppend = errors.New("seglog: append of zero records")
)

// IsCorruption reports whether err reports corrupt or torn on-disk data.
func IsCorruption(err error) bool { return errors.Is(err, ErrCorrupt) }

// corruptionError is a detailed corruption report that matches ErrCorrupt.
type corruptionError struct{ msg string }

func (e *corruptionError) Error() string { return "seglog: corrupt data: " + e.msg }

func (e *corruptionError) Is(target error) bool { return target == ErrCorrupt }

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
