package cache_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
)

type query struct {
	Filter map[string]string
	Page   int
}

func TestWrapCachesByArgument(t *testing.T) {
	t.Parallel()
	v := cache.Typed[int](newStack(t, cache.Options{}))
	var calls atomic.Int32
	count, err := cache.Wrap(v, "count", func(_ context.Context, q query) (int, error) {
		calls.Add(1)
		return q.Page * 10, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q1 := query{Filter: map[string]string{"b": "2", "a": "1"}, Page: 1}
	q1again := query{Filter: map[string]string{"a": "1", "b": "2"}, Page: 1}
	for _, q := range []query{q1, q1again, {Page: 2}} {
		if _, err := count(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("wrapped function ran %d times, want 2 (equal arguments share an entry)", n)
	}
}

func TestDeriveKeyIsDeterministicAndBounded(t *testing.T) {
	t.Parallel()
	k1, err := cache.DeriveKey("p", map[string]int{"z": 1, "a": 2})
	if err != nil {
		t.Fatal(err)
	}
	if k1 != `p:{"a":2,"z":1}` {
		t.Fatalf("DeriveKey = %q, want sorted JSON", k1)
	}
	long, err := cache.DeriveKey("p", strings.Repeat("x", 5000))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(long, "p:sha256:") || len(long) != len("p:sha256:")+64 {
		t.Fatalf("DeriveKey(long) = %q, want a sha256 key", long)
	}
	if _, err := cache.DeriveKey("p", make(chan int)); err == nil {
		t.Fatal("DeriveKey(chan) succeeded, want an encoding error")
	}
}
