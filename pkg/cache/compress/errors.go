package compress

import "errors"

// ErrTooLarge is wrapped by the error Encode returns for an input longer than
// Options.MaxInputBytes, and by the error Decode returns when the decoded
// value would exceed Options.MaxOutputBytes.
var ErrTooLarge = errors.New("compress: value too large")

// ErrRatio is wrapped by the error Decode returns when the decoded value
// would be more than Options.MaxRatio times its compressed size: the input
// is treated as a decompression bomb.
var ErrRatio = errors.New("compress: compression ratio above limit")

// ErrCorrupt is wrapped by the error Decode returns for input that is empty,
// carries an unknown algorithm marker, or is not a valid stream of the
// algorithm it names.
var ErrCorrupt = errors.New("compress: corrupt input")
