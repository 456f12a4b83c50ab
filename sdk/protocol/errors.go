package protocol

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Sentinel errors, re-exported by package connector. Test for them with
// errors.Is; FromStatus rebuilds them on the host's side of the boundary.
var (
	// ErrFatal means retrying cannot help (bad credentials, missing bucket):
	// the host stops the connector and reports the error.
	ErrFatal = errors.New("fatal")
	// ErrRetryable means the call may succeed if tried again after the
	// host's own backoff.
	ErrRetryable = errors.New("retryable")
	// ErrConfig means the configuration is invalid. FieldErrors match it.
	ErrConfig = errors.New("invalid configuration")
	// ErrUnimplemented is returned by methods of UnimplementedSink and
	// UnimplementedSource, and for a kind the plugin does not serve.
	ErrUnimplemented = errors.New("not implemented")
)

// BackoffError asks the host to retry after Wait, for example when the
// destination throttles. Find it with errors.As.
type BackoffError struct {
	Err  error
	Wait time.Duration
}

func (e *BackoffError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.Wait)
}

// Unwrap returns Err.
func (e *BackoffError) Unwrap() error { return e.Err }

// FieldError is a problem with one configuration field.
type FieldError struct {
	// Field is the dotted path of the field, such as "rotate.max_bytes";
	// empty when the problem is not about a single field.
	Field string `json:"field"`
	// Message says what is wrong, without the field name.
	Message string `json:"message"`
}

func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Is reports that a FieldError is a configuration error.
func (e FieldError) Is(target error) bool { return target == ErrConfig }

// FieldErrors are all the problems with a configuration. A config's
// Validate method or a factory may return them to name fields.
type FieldErrors []FieldError

func (e FieldErrors) Error() string {
	msgs := make([]string, len(e))
	for i, fe := range e {
		msgs[i] = fe.Error()
	}
	return "invalid configuration: " + strings.Join(msgs, "; ")
}

// Is reports that FieldErrors are a configuration error.
func (e FieldErrors) Is(target error) bool { return target == ErrConfig }

// BatchError is returned by Sink.Write when some records can never be
// written (bad data). Every record not in Failed is durable. The host sends
// the failed ones to the connector's dead-letter station and moves on.
type BatchError struct {
	// Failed maps the index of a record in the Write call to its error.
	Failed map[int]error
}

func (e *BatchError) Error() string {
	idx := make([]int, 0, len(e.Failed))
	for i := range e.Failed {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var b strings.Builder
	fmt.Fprintf(&b, "%d records failed", len(idx))
	for n, i := range idx {
		if n == 3 {
			b.WriteString("; ...")
			break
		}
		fmt.Fprintf(&b, "; record %d: %v", i, e.Failed[i])
	}
	return b.String()
}
