package memory

import "errors"

// ErrClosed is returned by every operation of a Layer after Close, except
// Close itself.
var ErrClosed = errors.New("memory layer: closed")
