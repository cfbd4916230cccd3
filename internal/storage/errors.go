package storage

import (
	"context"
	"errors"
	"fmt"
)

// Code classifies an error for the assistant. The set is closed: every error
// a tool reports carries exactly one of these.
type Code string

// The error codes of DESIGN.md section 3.
const (
	CodeInvalidArgument  Code = "invalid_argument"
	CodeNotFound         Code = "not_found"
	CodeAlreadyExists    Code = "already_exists"
	CodeConflict         Code = "conflict"
	CodeTooLarge         Code = "too_large"
	CodePermissionDenied Code = "permission_denied"
	CodeReadOnly         Code = "read_only"
	CodeUnsupported      Code = "unsupported"
	CodeRateLimited      Code = "rate_limited"
	CodeUnavailable      Code = "unavailable"
	CodeInternal         Code = "internal"
)

// Error is an error with a code. Its text is "<code>: <message>", the form
// tool results use.
type Error struct {
	Code    Code
	Message string
	Err     error // the cause, if any; never shown in Error()
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotFound) match any *Error with that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Code == e.Code
}

// Sentinels for errors.Is. They match any Error of the same code.
var (
	ErrInvalidArgument  = &Error{Code: CodeInvalidArgument}
	ErrNotFound         = &Error{Code: CodeNotFound}
	ErrAlreadyExists    = &Error{Code: CodeAlreadyExists}
	ErrConflict         = &Error{Code: CodeConflict}
	ErrTooLarge         = &Error{Code: CodeTooLarge}
	ErrPermissionDenied = &Error{Code: CodePermissionDenied}
	ErrReadOnly         = &Error{Code: CodeReadOnly}
	ErrUnsupported      = &Error{Code: CodeUnsupported}
	ErrRateLimited      = &Error{Code: CodeRateLimited}
	ErrUnavailable      = &Error{Code: CodeUnavailable}
	ErrInternal         = &Error{Code: CodeInternal}
)

// Errorf returns an *Error with the given code. A %w verb in format records
// the cause for errors.Is/As without changing the message.
func Errorf(code Code, format string, args ...any) error {
	wrapped := fmt.Errorf(format, args...)
	var cause error
	switch w := wrapped.(type) {
	case interface{ Unwrap() error }:
		cause = w.Unwrap()
	case interface{ Unwrap() []error }:
		cause = wrapped // several %w: keep them all reachable
	}
	return &Error{Code: code, Message: wrapped.Error(), Err: cause}
}

// CodeOf reports the code of err: the code of the first *Error in its chain,
// unavailable for a cancelled or timed-out context, internal otherwise.
func CodeOf(err error) Code {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return CodeUnavailable
	default:
		return CodeInternal
	}
}

// Describe renders err as "<code>: <what and why>", the text of a tool error.
// Errors without a code are reported as internal; their text is kept because
// backends never put secrets into errors.
func Describe(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	switch CodeOf(err) {
	case CodeUnavailable:
		return string(CodeUnavailable) + ": the request was cancelled or timed out: " + err.Error()
	default:
		return string(CodeInternal) + ": " + err.Error()
	}
}
