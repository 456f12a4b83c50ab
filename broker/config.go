package broker

import (
	"time"

	"github.com/junctionhq/junction/internal/names"
)

// Storage is where a station keeps its messages.
type Storage string

// Storage types.
const (
	StorageDisk   Storage = "disk"
	StorageMemory Storage = "memory"
)

// Fsync is when a station flushes produced messages to stable storage.
type Fsync string

// Fsync policies. FsyncAlways acknowledges a produce only after its bytes
// are fsynced; the others trade recent acknowledged writes on power loss for
// speed and are explicit opt-ins.
const (
	FsyncAlways   Fsync = "always"
	FsyncInterval Fsync = "interval"
	FsyncNever    Fsync = "never"
)

// Retention says when a station's old messages are deleted, by whole
// segments, oldest first, keeping at least the limit. MaxBytes and
// MaxMessages apply to each partition. Zero limits mean no limit.
type Retention struct {
	MaxAge      time.Duration `json:"max_age,omitempty"`
	MaxBytes    int64         `json:"max_bytes,omitempty"`
	MaxMessages int64         `json:"max_messages,omitempty"`
	// Ack deletes messages once every consumer group has acknowledged them;
	// it never deletes what a group still needs.
	Ack bool `json:"ack,omitempty"`
}

// StationConfig is a station's settings, as stored in the metadata file.
type StationConfig struct {
	Name              string        `json:"name"`
	Partitions        uint32        `json:"partitions"`
	Storage           Storage       `json:"storage"`
	Retention         Retention     `json:"retention"`
	Fsync             Fsync         `json:"fsync"`
	DedupWindow       time.Duration `json:"dedup_window,omitempty"`
	DeadLetterStation string        `json:"dead_letter_station,omitempty"`
	MaxDeliveries     uint32        `json:"max_deliveries"`
	MaxMessageBytes   uint32        `json:"max_message_bytes"`
	// Replicas is how many nodes keep the station. Zero means the default:
	// one on a single node, every voter on a cluster, which is also the only
	// other count accepted (see Broker.Replicas).
	Replicas  uint32    `json:"replicas,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// Schema, when set, validates every produced message.
	Schema *StationSchema `json:"schema,omitempty"`
}

// GroupConfig is a consumer group's settings.
type GroupConfig struct {
	AckDeadline   time.Duration `json:"ack_deadline"`
	MaxDeliveries uint32        `json:"max_deliveries,omitempty"`
	MaxAckPending uint32        `json:"max_ack_pending"`
}

// Limits on settings.
const (
	MaxPartitions          = 1024
	DefaultMaxDeliveries   = 5
	DefaultAckDeadline     = 30 * time.Second
	DefaultMaxAckPending   = 10000
	DefaultMaxMessageBytes = 8 << 20
	MaxDedupWindow         = 7 * 24 * time.Hour
	// MaxHeaderKeyBytes bounds a message header's key.
	MaxHeaderKeyBytes = 256
	// ReservedHeaderPrefix starts the header keys the broker sets itself
	// (message ids, dead-letter reasons, schemas); producers may not.
	ReservedHeaderPrefix = "junction-"
	maxNameLen           = 128
)

// ValidName reports whether s is a valid station or group name:
// [a-zA-Z0-9._-]{1,128}, and not "." or "..".
func ValidName(s string) bool { return names.Valid(s) }

func validateName(field, s string) error {
	if s == "" {
		return fieldErr(field, "required")
	}
	if !ValidName(s) {
		return fieldErr(field, "%s is not a valid name: use 1 to %d of a-z A-Z 0-9 . _ - (and not . or ..)", quote(s), maxNameLen)
	}
	return nil
}

// withDefaults fills zero settings with defaults, given the broker's default
// maximum message size.
func (c StationConfig) withDefaults(maxMessageBytes uint32) StationConfig {
	if c.Partitions == 0 {
		c.Partitions = 1
	}
	if c.Storage == "" {
		c.Storage = StorageDisk
	}
	if c.Fsync == "" {
		c.Fsync = FsyncAlways
	}
	if c.MaxDeliveries == 0 {
		c.MaxDeliveries = DefaultMaxDeliveries
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = maxMessageBytes
	}
	return c
}

func (c StationConfig) validate() error {
	if err := validateName("name", c.Name); err != nil {
		return err
	}
	if c.Partitions < 1 || c.Partitions > MaxPartitions {
		return fieldErr("partitions", "must be between 1 and %d, got %d", MaxPartitions, c.Partitions)
	}
	switch c.Storage {
	case StorageDisk, StorageMemory:
	default:
		return fieldErr("storage", "must be disk or memory, got %q", c.Storage)
	}
	switch c.Fsync {
	case FsyncAlways, FsyncInterval, FsyncNever:
	default:
		return fieldErr("fsync", "must be always, interval or never, got %q", c.Fsync)
	}
	r := c.Retention
	switch {
	case r.MaxAge < 0:
		return fieldErr("retention.max_age", "must not be negative")
	case r.MaxBytes < 0:
		return fieldErr("retention.max_bytes", "must not be negative")
	case r.MaxMessages < 0:
		return fieldErr("retention.max_messages", "must not be negative")
	case r.Ack && (r.MaxAge != 0 || r.MaxBytes != 0 || r.MaxMessages != 0):
		return fieldErr("retention.ack", "cannot be combined with age, bytes or message limits")
	}
	if c.DedupWindow < 0 || c.DedupWindow > MaxDedupWindow {
		return fieldErr("dedup_window", "must be between 0 and %s, got %s", MaxDedupWindow, c.DedupWindow)
	}
	if c.DeadLetterStation != "" {
		if err := validateName("dead_letter_station", c.DeadLetterStation); err != nil {
			return err
		}
		if c.DeadLetterStation == c.Name {
			return fieldErr("dead_letter_station", "a station cannot be its own dead-letter station")
		}
	}
	if c.MaxMessageBytes > 1<<30 {
		return fieldErr("max_message_bytes", "must be at most 1 GiB")
	}
	return nil
}

func (c GroupConfig) withDefaults() GroupConfig {
	if c.AckDeadline == 0 {
		c.AckDeadline = DefaultAckDeadline
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	return c
}

func (c GroupConfig) validate() error {
	if c.AckDeadline < time.Millisecond {
		return fieldErr("config.ack_deadline", "must be at least 1ms, got %s", c.AckDeadline)
	}
	if c.MaxAckPending > 1_000_000 {
		return fieldErr("config.max_ack_pending", "must be at most 1000000, got %d", c.MaxAckPending)
	}
	return nil
}

// StartKind selects where a new consumer group starts.
type StartKind int

// Start kinds.
const (
	StartEarliest StartKind = iota
	StartLatest
	StartOffset
	StartTime
)

// StartPosition is where a new consumer group starts reading.
type StartPosition struct {
	Kind   StartKind
	Offset uint64
	Time   time.Time
}
