package agentclient

import (
	"errors"
	"fmt"
	"strings"

	"github.com/layercache/layercache/pkg/agent/agentapi"
)

// Error is an answer of the agent other than success.
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code, Message and Details are the agent's explanation (Code is empty
	// when the body was not an agentapi envelope).
	Code    agentapi.ErrorCode
	Message string
	Details []string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("agentclient: %d %s: %s", e.StatusCode, e.Code, e.Message)
	if len(e.Details) > 0 {
		msg += " (" + strings.Join(e.Details, "; ") + ")"
	}
	return msg
}

// CodeOf returns the agent's error code of err, or "" when err is not an
// *Error.
func CodeOf(err error) agentapi.ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// IsNotFound reports whether err says the key was not found.
func IsNotFound(err error) bool { return CodeOf(err) == agentapi.CodeNotFound }
