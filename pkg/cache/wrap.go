package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// maxInlineArg is the longest argument encoding kept readable in a derived
// key; longer ones are replaced by their SHA-256.
const maxInlineArg = 200

// Wrap returns fn with its results cached in v. The key of a call is prefix,
// ":", and a deterministic encoding of arg: its JSON form (map keys sorted,
// struct fields in declaration order) when that is at most 200 bytes, else
// "sha256:" and the hex digest of it. Equal arguments therefore share an
// entry across processes and restarts.
//
// Use WrapKey when the argument does not encode to JSON or carries fields
// that must not reach the key (secrets, per-request data).
func Wrap[A, R any](v *View[R], prefix string, fn func(ctx context.Context, arg A) (R, error), opts ...Option) (func(context.Context, A) (R, error), error) {
	return WrapKey(v, func(arg A) (string, error) { return DeriveKey(prefix, arg) }, fn, opts...)
}

// WrapKey is Wrap with a caller-supplied key function.
func WrapKey[A, R any](v *View[R], key func(arg A) (string, error), fn func(ctx context.Context, arg A) (R, error), opts ...Option) (func(context.Context, A) (R, error), error) {
	if key == nil || fn == nil {
		return nil, fmt.Errorf("cache: WrapKey needs a key function and a function to wrap")
	}
	if _, err := v.s.c.resolve(opts); err != nil {
		return nil, err
	}
	return func(ctx context.Context, arg A) (R, error) {
		k, err := key(arg)
		if err != nil {
			var zero R
			return zero, fmt.Errorf("cache: derive key: %w", err)
		}
		return v.Get(ctx, k, func(ctx context.Context) (R, error) { return fn(ctx, arg) }, opts...)
	}, nil
}

// DeriveKey returns the key Wrap uses for arg under prefix.
func DeriveKey(prefix string, arg any) (string, error) {
	if err := validateName("prefix", prefix); err != nil {
		return "", err
	}
	b, err := json.Marshal(arg)
	if err != nil {
		return "", fmt.Errorf("cache: derive key for %T: %w", arg, err)
	}
	if len(b) <= maxInlineArg {
		k := prefix + ":" + string(b)
		if ValidateKey(k) == nil {
			return k, nil
		}
	}
	sum := sha256.Sum256(b)
	return prefix + ":sha256:" + hex.EncodeToString(sum[:]), nil
}
