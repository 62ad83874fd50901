package glob

import "errors"

// ErrInvalid is wrapped by every error Compile returns. The full message
// says what is wrong with the pattern: it is empty, longer than MaxLen
// bytes, not valid UTF-8, contains a control character, or ends in a lone
// backslash.
var ErrInvalid = errors.New("glob: invalid pattern")
