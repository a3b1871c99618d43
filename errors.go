// Package switchboard is the vocabulary of the product: entities, IDs, enums,
// validation, coded errors, permissions and the telephony contracts. It
// imports only the standard library; every other package builds on it.
package switchboard

import (
	"errors"
	"fmt"
	"strings"
)

// ErrorCode classifies an Error so that each edge (HTTP, SIP, CLI) can map it
// once to its own status.
type ErrorCode string

// Error codes. Their HTTP mapping lives in web, their SIP mapping in sipua.
const (
	EInvalid      ErrorCode = "invalid"      // bad input: 400 / SIP 400
	EUnauthorized ErrorCode = "unauthorized" // not signed in: 401
	EForbidden    ErrorCode = "forbidden"    // signed in, not allowed: 403 / SIP 403
	ENotFound     ErrorCode = "not_found"    // 404 / SIP 404
	EConflict     ErrorCode = "conflict"     // duplicate or edited by someone else: 409
	EQuota        ErrorCode = "quota"        // a company quota is used up: 409
	ELocked       ErrorCode = "locked"       // account or source locked: 423
	ETooMany      ErrorCode = "too_many"     // rate limited: 429
	EUnavailable  ErrorCode = "unavailable"  // a dependency is down: 503
	EInternal     ErrorCode = "internal"     // a bug or an I/O failure: 500
)

// Error is an error meant for people: Message is a full sentence that can be
// shown as is. Field names the input field at fault when there is one, and Row
// the 1-based data row of an import.
type Error struct {
	Code    ErrorCode
	Message string
	Field   string
	Row     int
	// Format and Args are what Message was made from, so that the edges can
	// translate the message: the English format is the catalogue key.
	Format string
	Args   []any
}

func (e *Error) Error() string {
	switch {
	case e.Row > 0 && e.Field != "":
		return fmt.Sprintf("row %d, %s: %s", e.Row, e.Field, e.Message)
	case e.Field != "":
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Format: format, Args: args}
}

// FieldError returns an EInvalid error that names the field at fault.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EInvalid, Field: field, Message: fmt.Sprintf(format, args...), Format: format, Args: args}
}

// ErrorCodeOf returns the code of the first *Error in err's chain, EInternal
// for any other non-nil error and "" for nil.
func ErrorCodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessageOf returns the message for people of err: the *Error's message,
// or a generic sentence for internal errors so that nothing internal leaks.
func ErrorMessageOf(err error) string {
	var es Errors
	if errors.As(err, &es) {
		msgs := make([]string, len(es))
		for i, e := range es {
			msgs[i] = e.Error()
		}
		return strings.Join(msgs, " ")
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return "An internal error occurred."
}

// Errors collects several problems found at once, such as every reason a
// config snapshot was refused or every bad field of a form.
type Errors []*Error

func (es Errors) Error() string {
	switch len(es) {
	case 0:
		return "no errors"
	case 1:
		return es[0].Error()
	}
	return fmt.Sprintf("%s (and %d more)", es[0].Error(), len(es)-1)
}

// Unwrap lets errors.As find the first problem, so ErrorCodeOf of a
// collection is its first problem's code.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Err returns es as an error, or nil when it is empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}
