package upstream

import (
	"errors"
	"fmt"
)

// Kind classifies an error by what the client should be told, not by where
// it happened. Each dialect maps every kind to its own status and body in
// routes.yaml.
type Kind string

// The canonical error kinds.
const (
	KindInvalid      Kind = "invalid"      // malformed or unacceptable input
	KindMissing      Kind = "missing"      // a required parameter is absent
	KindNotFound     Kind = "not_found"    // record or attachment does not exist (or is not visible)
	KindTooLarge     Kind = "too_large"    // body or content over a cap
	KindUnauthorized Kind = "unauthorized" // no credential, or an unknown one
	KindForbidden    Kind = "forbidden"    // the credential lacks the scope
	KindConflict     Kind = "conflict"     // the request contradicts current state
	KindRateLimited  Kind = "rate_limited" // too many requests for this key
	KindUnsupported  Kind = "unsupported"  // the store cannot do this operation
	KindUnavailable  Kind = "unavailable"  // the store is down or refused
	KindBadGateway   Kind = "bad_gateway"  // a remote store failed or answered nonsense
	KindTimeout      Kind = "timeout"      // the store did not answer in time
	KindInternal     Kind = "internal"     // a bug or an unexpected failure
)

// Kinds lists every canonical kind, for checking that a dialect maps them all.
func Kinds() []Kind {
	return []Kind{KindInvalid, KindMissing, KindNotFound, KindTooLarge, KindUnauthorized,
		KindForbidden, KindConflict, KindRateLimited, KindUnsupported, KindUnavailable,
		KindBadGateway, KindTimeout, KindInternal}
}

// Error is an error with a canonical kind and a message fit for a client.
type Error struct {
	Kind Kind
	// Message is shown to the client; it never holds credentials or paths
	// on the server's disk.
	Message string
	// Err is the underlying cause, for logs; it is not shown to clients.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Kind, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind with a formatted client message.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error of the given kind that keeps err as its cause.
func Wrap(kind Kind, err error, message string) *Error {
	return &Error{Kind: kind, Message: message, Err: err}
}

// KindOf reports the canonical kind of err: the kind of the first *Error in
// its chain, or KindInternal for any other error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// MessageOf reports the client message of err, or a generic one for errors
// that carry none (so internal details never reach a client).
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return "internal error"
}

// IsKind reports whether err has the given canonical kind.
func IsKind(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }
