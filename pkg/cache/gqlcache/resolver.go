package gqlcache

import (
	"context"
	"errors"
	"fmt"

	"github.com/layercache/layercache/pkg/cache"
)

// Resolver returns fn with its results cached in v under prefix + ":" + the
// key that key returns for the call's arguments. opts apply to every cache
// read (TTL, tags, stale windows). It returns an error when key or fn is
// nil, when prefix is not a valid key, or when opts are invalid.
//
// The returned function is safe for concurrent use. A key error other than
// ErrUncached fails the call without running fn; an empty key is an error.
func Resolver[A, R any](v *cache.View[R], prefix string, key func(ctx context.Context, args A) (string, error), fn func(ctx context.Context, args A) (R, error), opts ...cache.Option) (func(context.Context, A) (R, error), error) {
	switch {
	case v == nil:
		return nil, errors.New("gqlcache: Resolver needs a cache.View")
	case key == nil:
		return nil, fmt.Errorf("gqlcache: Resolver %q requires a key function: results are never keyed implicitly", prefix)
	case fn == nil:
		return nil, fmt.Errorf("gqlcache: Resolver %q needs a resolver function", prefix)
	}
	if err := cache.ValidateKey(prefix); err != nil {
		return nil, fmt.Errorf("gqlcache: Resolver prefix: %w", err)
	}
	// WrapKey checks opts against the Stack without reading or writing.
	noKey := func(struct{}) (string, error) { return "", nil }
	noFn := func(context.Context, struct{}) (R, error) { var zero R; return zero, nil }
	if _, err := cache.WrapKey(v, noKey, noFn, opts...); err != nil {
		return nil, fmt.Errorf("gqlcache: Resolver %q options: %w", prefix, err)
	}
	return func(ctx context.Context, args A) (R, error) {
		k, err := key(ctx, args)
		switch {
		case errors.Is(err, ErrUncached):
			return fn(ctx, args)
		case err != nil:
			var zero R
			return zero, fmt.Errorf("gqlcache: %s: key: %w", prefix, err)
		case k == "":
			var zero R
			return zero, fmt.Errorf("gqlcache: %s: the key function returned an empty key", prefix)
		}
		return v.Get(ctx, prefix+":"+k, func(fctx context.Context) (R, error) {
			// The call's values, the fetch's lifetime: a background
			// refresh's own context has no request values.
			rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			defer cancel()
			stop := context.AfterFunc(fctx, cancel)
			defer stop()
			return fn(rctx, args)
		}, opts...)
	}, nil
}
