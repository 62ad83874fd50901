package agentapi

import (
	"fmt"
	"strings"
)

// Response is the envelope of every JSON reply: Data on success, Error on
// failure, never both.
type Response[T any] struct {
	// data is the result of a successful call.
	Data T `json:"data,omitzero"`
	// error says why the call failed; nil on success.
	Error *Error `json:"error,omitempty"`
}

// Error is a failed call's explanation. It implements error, so clients can
// return it as is; errors.As finds it.
type Error struct {
	// code classifies the failure for programs (see ErrorCode).
	Code ErrorCode `json:"code"`
	// message says what went wrong, for people.
	Message string `json:"message"`
	// details lists the individual problems, e.g. one line per invalid
	// policy field ("layers.memory.maxEntries: must not be negative").
	Details []string `json:"details,omitempty"`
}

func (e *Error) Error() string {
	if len(e.Details) == 0 {
		return fmt.Sprintf("agent: %s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("agent: %s: %s (%s)", e.Code, e.Message, strings.Join(e.Details, "; "))
}

// ErrorCode classifies a failure. Each code comes with one HTTP status,
// given in its comment.
type ErrorCode string

// Error codes.
const (
	// CodeBadRequest (400): the body is not valid JSON for the endpoint
	// (syntax, unknown field, wrong type, trailing data) or a query
	// parameter does not parse.
	CodeBadRequest ErrorCode = "BadRequest"
	// CodeInvalidKey (400): a key, tag, prefix or pattern breaks the key
	// rules (empty, longer than 1024 bytes, control characters, not UTF-8).
	CodeInvalidKey ErrorCode = "InvalidKey"
	// CodeUnauthorized (401): the admin request carries no client
	// certificate. Permanent: retrying cannot help.
	CodeUnauthorized ErrorCode = "Unauthorized"
	// CodeForbidden (403): the client certificate was verified but is not
	// allowed (Options.AuthorizeAdmin refused it).
	CodeForbidden ErrorCode = "Forbidden"
	// CodeNotFound (404): the key is not cached, no origin matches it, or
	// its origin says it does not exist.
	CodeNotFound ErrorCode = "NotFound"
	// CodeStaleGeneration (409): the policy's generation is older than the
	// applied one; the applied policy is kept.
	CodeStaleGeneration ErrorCode = "StaleGeneration"
	// CodeTooLarge (413): the body or the value exceeds a limit.
	CodeTooLarge ErrorCode = "TooLarge"
	// CodeInvalidPolicy (422): the policy is invalid or could not be built
	// (a layer failed to open); the applied policy is kept. Details name
	// the fields.
	CodeInvalidPolicy ErrorCode = "InvalidPolicy"
	// CodeInvalidRequest (422): the request is well-formed JSON but
	// breaks a rule (no target, two targets, bad uid, snapshots not
	// configured, ...).
	CodeInvalidRequest ErrorCode = "InvalidRequest"
	// CodeInternal (500): the agent failed to do the work (a layer
	// failed). Retrying may help.
	CodeInternal ErrorCode = "Internal"
	// CodeOriginFailed (502): the origin that loads the key failed or
	// answered something other than 2xx JSON, 404 or 410.
	CodeOriginFailed ErrorCode = "OriginFailed"
	// CodeUnavailable (503): the agent is starting or stopping, or a
	// circuit breaker is open. Retry later.
	CodeUnavailable ErrorCode = "Unavailable"
	// CodeTimeout (504): loading the key from its origin timed out.
	CodeTimeout ErrorCode = "Timeout"
)
