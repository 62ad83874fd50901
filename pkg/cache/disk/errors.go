package disk

import "errors"

// ErrClosed is returned, unwrapped, by every operation on a Layer after
// Close (a second Close returns nil).
var ErrClosed = errors.New("disk layer: closed")

// ErrDirInUse is returned (wrapped, with the directory) by New when another
// Layer, in this or another process, holds the lock on Options.Dir.
var ErrDirInUse = errors.New("disk layer: directory in use by another layer")
