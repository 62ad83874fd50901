// Package glob matches cache keys against wildcard patterns, for
// invalidation by pattern.
//
// Syntax, in a pattern compiled by [Compile]:
//
//   - `*` matches any run of bytes, including the empty run and runs that
//     contain ':' or '/': no separator is special.
//   - `?` matches exactly one character: one UTF-8 encoded rune, or one
//     byte of a key that is not valid UTF-8.
//   - `\` escapes the next character, which then matches itself (`\*`,
//     `\?`, `\\`). A `\` at the end of a pattern is an error.
//   - Every other character matches itself, byte for byte. There are no
//     character classes: `[` and `]` are literal, as are `{`, `}` and `^`.
//
// A pattern always matches the whole key, never part of it.
//
// Matching never backtracks exponentially: [Pattern.Match] costs at most
// O(len(pattern) × len(key)) steps, whatever the inputs, and allocates
// nothing, so patterns from untrusted callers cannot be used to stall a
// server (no ReDoS). [Pattern.Prefix] gives the literal text before the
// first wildcard, so a caller can scan storage by prefix and filter the
// keys it finds with Match.
//
// A [Pattern] is immutable once compiled and safe for concurrent use by
// any number of goroutines. The package has no global state and starts no
// goroutines.
package glob
