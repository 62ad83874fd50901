package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/breaker"
)

// writeData writes a successful enveloped reply.
func writeData[T any](w http.ResponseWriter, status int, data T) {
	writeJSON(w, status, agentapi.Response[T]{Data: data})
}

// writeError writes a failed reply with the status of code.
func writeError(w http.ResponseWriter, code agentapi.ErrorCode, msg string, details ...string) {
	writeJSON(w, statusOf(code), agentapi.Response[struct{}]{Error: &agentapi.Error{Code: code, Message: msg, Details: details}})
}

func writeJSON[T any](w http.ResponseWriter, status int, resp agentapi.Response[T]) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// A failed write means the client has gone: nothing left to tell it.
	_ = json.NewEncoder(w).Encode(resp)
}

// statusOf is the HTTP status of each error code (see agentapi.ErrorCode).
func statusOf(code agentapi.ErrorCode) int {
	switch code {
	case agentapi.CodeBadRequest, agentapi.CodeInvalidKey:
		return http.StatusBadRequest
	case agentapi.CodeUnauthorized:
		return http.StatusUnauthorized
	case agentapi.CodeForbidden:
		return http.StatusForbidden
	case agentapi.CodeNotFound:
		return http.StatusNotFound
	case agentapi.CodeStaleGeneration:
		return http.StatusConflict
	case agentapi.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case agentapi.CodeInvalidPolicy, agentapi.CodeInvalidRequest:
		return http.StatusUnprocessableEntity
	case agentapi.CodeOriginFailed:
		return http.StatusBadGateway
	case agentapi.CodeUnavailable:
		return http.StatusServiceUnavailable
	case agentapi.CodeTimeout:
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

// writeCacheError maps an error of the cache or of an origin to a reply.
func writeCacheError(w http.ResponseWriter, err error) {
	var (
		ve *agentapi.ValidationError
		oe *OriginError
		te *cache.TimeoutError
	)
	switch {
	case errors.As(err, &ve):
		writeError(w, agentapi.CodeInvalidRequest, ve.Error(), ve.Details()...)
	case errors.Is(err, cache.ErrInvalidKey):
		writeError(w, agentapi.CodeInvalidKey, err.Error())
	case errors.Is(err, cache.ErrNotFound), errors.Is(err, cache.ErrMiss):
		writeError(w, agentapi.CodeNotFound, err.Error())
	case errors.Is(err, cache.ErrTooLarge) && !errors.As(err, &oe):
		writeError(w, agentapi.CodeTooLarge, err.Error())
	case errors.As(err, &te), errors.Is(err, context.DeadlineExceeded):
		writeError(w, agentapi.CodeTimeout, err.Error())
	case errors.As(err, &oe):
		writeError(w, agentapi.CodeOriginFailed, err.Error())
	case errors.Is(err, breaker.ErrOpen), errors.Is(err, cache.ErrClosed), errors.Is(err, ErrNotRunning):
		writeError(w, agentapi.CodeUnavailable, err.Error())
	default:
		writeError(w, agentapi.CodeInternal, err.Error())
	}
}

// writeDecodeError maps an agentapi.Decode error to a reply.
func writeDecodeError(w http.ResponseWriter, err error) {
	if errors.Is(err, agentapi.ErrBodyTooLarge) {
		writeError(w, agentapi.CodeTooLarge, err.Error())
		return
	}
	writeError(w, agentapi.CodeBadRequest, err.Error())
}

// notFound answers paths no route matches.
func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, agentapi.CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
}
