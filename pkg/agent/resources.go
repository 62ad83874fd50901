package agent

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/breaker"
)

// resource is a part (a layer, a Redis client) shared by the runtimes built
// over it. Each runtime holds one reference; the last release closes it. A
// policy change that keeps a part retains it for the new runtime before the
// old runtime releases it.
type resource[T any] struct {
	v     T
	refs  atomic.Int32
	close func() error
}

func newResource[T any](v T, closeFn func() error) *resource[T] {
	r := &resource[T]{v: v, close: closeFn}
	r.refs.Store(1)
	return r
}

func (r *resource[T]) retain() *resource[T] {
	r.refs.Add(1)
	return r
}

func (r *resource[T]) release() error {
	if r.refs.Add(-1) == 0 && r.close != nil {
		return r.close()
	}
	return nil
}

// borrowed is a layer a Stack uses but does not own: closing the Stack
// leaves it open, so that the next policy's Stack can use it too. The
// agent closes the real layer when its resource's last reference goes.
type borrowed struct{ cache.Layer }

// Close does nothing: the layer belongs to its resource.
func (borrowed) Close() error { return nil }

// guarded puts a circuit breaker in front of a remote layer. While the
// breaker is open every call fails at once with the breaker's error (which
// the Stack counts as a layer failure and degrades on), so a Redis outage
// costs no timeouts. A call ended by context.Canceled (the caller left)
// says nothing about Redis and counts as a success; every other error
// counts as a failure.
type guarded struct {
	cache.Layer
	set *breaker.Set
	key string
}

func (g guarded) call(fn func() error) error {
	done, err := g.set.Allow(g.key)
	if err != nil {
		return err
	}
	ok := false
	defer func() { done(ok) }() // a panic counts as a failure
	err = fn()
	ok = err == nil || errors.Is(err, context.Canceled)
	return err
}

func (g guarded) Get(ctx context.Context, key string) (e cache.Entry, found bool, err error) {
	err = g.call(func() error {
		var ferr error
		e, found, ferr = g.Layer.Get(ctx, key)
		return ferr
	})
	return e, found, err
}

func (g guarded) GetMany(ctx context.Context, keys []string) (entries []cache.Entry, found []bool, err error) {
	err = g.call(func() error {
		var ferr error
		entries, found, ferr = g.Layer.GetMany(ctx, keys)
		return ferr
	})
	return entries, found, err
}

func (g guarded) Set(ctx context.Context, key string, e cache.Entry) error {
	return g.call(func() error { return g.Layer.Set(ctx, key, e) })
}

func (g guarded) SetMany(ctx context.Context, items []cache.Item) error {
	return g.call(func() error { return g.Layer.SetMany(ctx, items) })
}

func (g guarded) Delete(ctx context.Context, key string) error {
	return g.call(func() error { return g.Layer.Delete(ctx, key) })
}

func (g guarded) DeleteMany(ctx context.Context, keys []string) error {
	return g.call(func() error { return g.Layer.DeleteMany(ctx, keys) })
}

func (g guarded) Scan(ctx context.Context, prefix string, fn func(key string) bool) error {
	return g.call(func() error { return g.Layer.Scan(ctx, prefix, fn) })
}

func (g guarded) Clear(ctx context.Context) error {
	return g.call(func() error { return g.Layer.Clear(ctx) })
}

func (g guarded) Ping(ctx context.Context) error {
	return g.call(func() error { return g.Layer.Ping(ctx) })
}
