package shard

import (
	"errors"
	"fmt"
)

// Code classifies an Error frame.
type Code uint8

// Error codes.
const (
	CodeBadRequest      Code = 1 // malformed or invalid frame; the stream ends
	CodeNoCapacity      Code = 2 // session or memory limits reached
	CodeBusy            Code = 3 // not accepting new sessions (draining, shutting down)
	CodeUnknownSession  Code = 4 // no such session (expired after idle, or wrong id)
	CodePaymentRequired Code = 5 // price not accepted, or unreceipted credit over the limit
	CodeInternal        Code = 6 // the server failed
	CodeVersion         Code = 7 // unsupported protocol version
	codeMax                  = CodeVersion
)

// Sentinels that Error values match with errors.Is, one per code.
var (
	ErrBadRequest      = errors.New("bad request")
	ErrNoCapacity      = errors.New("no capacity")
	ErrBusy            = errors.New("server busy")
	ErrUnknownSession  = errors.New("unknown session")
	ErrPaymentRequired = errors.New("payment required")
	ErrInternal        = errors.New("internal server error")
	ErrVersion         = errors.New("unsupported protocol version")
)

var codeErrs = map[Code]error{
	CodeBadRequest: ErrBadRequest, CodeNoCapacity: ErrNoCapacity, CodeBusy: ErrBusy,
	CodeUnknownSession: ErrUnknownSession, CodePaymentRequired: ErrPaymentRequired,
	CodeInternal: ErrInternal, CodeVersion: ErrVersion,
}

// Error is an Error frame, and the error a client returns for one.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string {
	base := codeErrs[e.Code]
	if base == nil {
		return fmt.Sprintf("shard error %d: %s", e.Code, e.Message)
	}
	if e.Message == "" {
		return base.Error()
	}
	return base.Error() + ": " + e.Message
}

// Is matches the code's sentinel.
func (e *Error) Is(target error) bool { return codeErrs[e.Code] == target }

// errorf builds an Error frame.
func errorf(c Code, format string, a ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, a...)}
}
