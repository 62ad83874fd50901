package writebehind

import "errors"

// ErrClosed is returned by every operation of a Layer once Close has begun,
// except Close and Stats.
var ErrClosed = errors.New("writebehind layer: closed")

// ErrQueueFull is wrapped by the error Set, Delete, SetMany and DeleteMany
// return when Options.MaxPending writes are pending and Options.OnFull is
// Reject.
var ErrQueueFull = errors.New("writebehind layer: queue full")

// ErrDropped is wrapped by the error passed to Options.OnError, and returned
// by Flush and Close, for writes the Layer gave up on: the inner layer
// failed every attempt, or Options.CloseTimeout elapsed first. The error
// also wraps the cause (the inner layer's error, or ErrCloseTimeout).
var ErrDropped = errors.New("writebehind layer: writes dropped")

// ErrCloseTimeout is wrapped, with ErrDropped, by the error for writes
// dropped because Options.CloseTimeout elapsed before they were flushed.
var ErrCloseTimeout = errors.New("writebehind layer: close timeout elapsed")
