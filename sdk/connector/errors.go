package connector

// Fatal marks err as fatal: errors.Is(Fatal(err), ErrFatal) is true, and
// the message is err's. Fatal(nil) is nil.
func Fatal(err error) error { return mark(err, ErrFatal) }

// Retryable marks err as retryable: errors.Is(Retryable(err), ErrRetryable)
// is true, and the message is err's. Retryable(nil) is nil.
func Retryable(err error) error { return mark(err, ErrRetryable) }

func mark(err, kind error) error {
	if err == nil {
		return nil
	}
	return &kindError{err: err, kind: kind}
}

type kindError struct {
	err  error
	kind error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }
