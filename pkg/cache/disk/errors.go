package disk

import "errors"

// ErrClosed is returned (wrapped) by every operation on a Layer after Close.
var ErrClosed = errors.New("disk layer: closed")

// ErrDirInUse is returned (wrapped) by New when another Layer, in this or
// another process, holds the lock on Options.Dir.
var ErrDirInUse = errors.New("disk layer: directory in use by another layer")
