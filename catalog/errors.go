package catalog

import "errors"

// Errors a caller can branch on with errors.Is. Messages wrapping them name
// the connector, version and catalog involved.
var (
	// ErrVerify means something failed verification: an index or artifact
	// signature, a digest, a size, an index that does not validate, or a
	// plugin whose --spec disagrees with its index entry. Nothing is
	// installed.
	ErrVerify = errors.New("verification failed")
	// ErrUntrusted means a signature is valid but its key is not trusted,
	// or not trusted for that connector name. It also wraps ErrVerify.
	ErrUntrusted = errors.New("signer not trusted")
	// ErrNotFound means no catalog lists the connector or version asked
	// for, or it is not installed.
	ErrNotFound = errors.New("not found")
	// ErrYanked means the only matching versions are yanked; install one
	// by pinning its exact version.
	ErrYanked = errors.New("version yanked")
	// ErrIncompatible means the matching versions need a newer Junction or
	// another connector protocol version.
	ErrIncompatible = errors.New("incompatible with this Junction")
	// ErrNoPlatform means the matching versions have no build for this
	// operating system and architecture.
	ErrNoPlatform = errors.New("no build for this platform")
	// ErrExists means publishing would overwrite an artifact with
	// different bytes; pass Force to replace it.
	ErrExists = errors.New("already published with different content")
)

// untrusted marks an error as both ErrUntrusted and ErrVerify.
type untrusted struct{ msg string }

func (e untrusted) Error() string { return e.msg }

func (e untrusted) Is(target error) bool { return target == ErrUntrusted || target == ErrVerify }
