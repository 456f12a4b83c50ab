package seglog

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/junctionhq/junction/broker/vfs"
)

// SyncPolicy says when appended data is fsynced, and so when it becomes
// visible to readers.
type SyncPolicy int

const (
	// SyncAlways fsyncs every group commit before Append returns; records
	// become visible only once durable.
	SyncAlways SyncPolicy = iota
	// SyncInterval fsyncs every Options.SyncInterval; records become
	// visible once written.
	SyncInterval
	// SyncNever leaves flushing to the operating system; records become
	// visible once written. Use it for in-memory logs.
	SyncNever
	// SyncDeferred leaves fsyncing to the log's owner, which holds the
	// records elsewhere durably until it calls Log.Sync (a cluster node's
	// raft log); records become visible once written. Segments are still
	// fsynced when they roll and at Close. See deferred.go.
	SyncDeferred
)

// String returns the policy's configuration name: always, interval or never.
func (p SyncPolicy) String() string {
	switch p {
	case SyncAlways:
		return "always"
	case SyncInterval:
		return "interval"
	case SyncNever:
		return "never"
	case SyncDeferred:
		return "deferred"
	}
	return fmt.Sprintf("SyncPolicy(%d)", int(p))
}

// Defaults and limits for Options.
const (
	DefaultSegmentBytes       = 64 << 20
	DefaultIndexIntervalBytes = 4096
	DefaultSyncInterval       = time.Second
	// MaxSegmentBytes bounds Options.SegmentBytes so that file positions
	// fit the index's 32-bit fields.
	MaxSegmentBytes = 1 << 31
)

// Options configures a Log. The zero value of every field but Dir selects
// its default.
type Options struct {
	// FS is the filesystem holding the log; default vfs.OS.
	FS vfs.FS
	// Dir is the log's directory, created if missing. Required.
	Dir string
	// SegmentBytes is the size past which the active segment is rolled;
	// default DefaultSegmentBytes, at most MaxSegmentBytes.
	SegmentBytes int64
	// SegmentMaxAge rolls the active segment on append (or Enforce) once
	// its first record is older than this, so that age retention can
	// delete data of quiet logs; 0 disables age rolling.
	SegmentMaxAge time.Duration
	// IndexIntervalBytes is the distance in bytes between sparse index
	// entries; default DefaultIndexIntervalBytes.
	IndexIntervalBytes int
	// Sync is the durability policy; default SyncAlways.
	Sync SyncPolicy
	// SyncInterval is the fsync period under SyncInterval; default
	// DefaultSyncInterval.
	SyncInterval time.Duration
	// Logger receives recovery warnings; default slog.Default().
	Logger *slog.Logger
	// Clock stamps records that arrive without a timestamp and ages
	// segments; default time.Now. Only the writer of an entry stamps it.
	Clock func() time.Time
	// MinNextOffset is the least offset the next Append may be given: the
	// caller passes what it knows the log once held (the highest offset a
	// consumer has committed), so that offsets are never reused when
	// recovery finds less. Offsets below it that the log lacks are damage
	// (see Status) unless Sync is SyncNever, which never promised them.
	// SyncDeferred ignores it: what lies above the high-water mark is the
	// owner's to replay.
	MinNextOffset uint64
	// FileCache bounds the open files of sealed segments; share one
	// between the logs of a process. Default: one process-wide cache of
	// DefaultFileCacheLimit files.
	FileCache *FileCache
	// OnSync, if set, is called by the log's fsync goroutine with the
	// duration of every group-commit fsync. It must not block.
	OnSync func(time.Duration)
}

// withDefaults returns a copy of o with defaults filled in, or an error
// naming the first invalid option.
func (o Options) withDefaults() (Options, error) {
	if o.FS == nil {
		o.FS = vfs.OS
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.IndexIntervalBytes == 0 {
		o.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.FileCache == nil {
		o.FileCache = defaultFileCache()
	}
	switch {
	case o.Dir == "":
		return o, fmt.Errorf("seglog: Options.Dir is required")
	case o.SegmentBytes < 0 || o.SegmentBytes > MaxSegmentBytes:
		return o, fmt.Errorf("seglog: Options.SegmentBytes %d out of range [1, %d]", o.SegmentBytes, MaxSegmentBytes)
	case o.SegmentMaxAge < 0:
		return o, fmt.Errorf("seglog: Options.SegmentMaxAge %v is negative", o.SegmentMaxAge)
	case o.IndexIntervalBytes < 0:
		return o, fmt.Errorf("seglog: Options.IndexIntervalBytes %d is negative", o.IndexIntervalBytes)
	case o.Sync < SyncAlways || o.Sync > SyncDeferred:
		return o, fmt.Errorf("seglog: Options.Sync %v is not a SyncPolicy", o.Sync)
	case o.SyncInterval < 0:
		return o, fmt.Errorf("seglog: Options.SyncInterval %v is negative", o.SyncInterval)
	}
	return o, nil
}
