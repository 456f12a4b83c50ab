package broker

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Sentinel errors. Every error the broker returns to a caller wraps one of
// these, so the API layer can map it to a stable reason with errors.Is.
var (
	ErrStationNotFound = errors.New("station not found")
	ErrStationExists   = errors.New("station already exists")
	ErrStationInUse    = errors.New("station is in use")
	ErrGroupNotFound   = errors.New("consumer group not found")
	ErrGroupExists     = errors.New("consumer group already exists")
	ErrInvalidArgument = errors.New("invalid argument")
	ErrMessageTooLarge = errors.New("message too large")
	ErrNotPending      = errors.New("message not pending")
	ErrClosed          = errors.New("broker is shutting down")
	ErrDataDirLocked   = errors.New("data directory is in use by another broker")
)

// FieldError is an invalid argument: it names the field and says what is
// wrong with it. It matches ErrInvalidArgument.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Is makes a FieldError match ErrInvalidArgument.
func (e *FieldError) Is(target error) bool { return target == ErrInvalidArgument }

// quote quotes s for an error message, cutting it short when it is long:
// an error never echoes unbounded input back to its sender.
func quote(s string) string {
	const keep = 64
	if len(s) <= keep+16 {
		return strconv.Quote(s)
	}
	cut := keep
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
