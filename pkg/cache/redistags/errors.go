package redistags

import "errors"

// ErrContended is wrapped by the error Track and Untrack return in
// ModeAtomic when other clients retagged the same key between each of 16
// attempts to read its tags and update it. The key's tags are then those the
// last successful update gave it.
var ErrContended = errors.New("redis tag index: key retagged concurrently too often")
