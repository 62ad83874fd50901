package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

type user struct {
	ID   int
	Name string
}

func TestL1HitAllocatesNothing(t *testing.T) {
	s := newStack(t, cache.Options{TTL: time.Hour})
	v := cache.Typed[user](s)
	ctx := context.Background()
	if err := v.Set(ctx, "user:1", user{ID: 1, Name: "Ada"}); err != nil {
		t.Fatal(err)
	}
	fetch := func(context.Context) (user, error) { return user{}, nil }
	cases := []struct {
		name string
		get  func()
	}{
		{"no options", func() { _, _ = v.Get(ctx, "user:1", fetch) }},
		{"with options", func() { _, _ = v.Get(ctx, "user:1", fetch, cache.TTL(time.Minute), cache.Tags("users")) }},
		{"without fetcher", func() { _, _ = v.Get(ctx, "user:1", nil) }},
	}
	for _, tc := range cases {
		if allocs := testing.AllocsPerRun(1000, tc.get); allocs != 0 {
			t.Errorf("L1 hit (%s) allocates %.1f times per call, want 0", tc.name, allocs)
		}
	}
}

func TestLoadHitAllocatesNothingEvenWithAKeyedLoader(t *testing.T) {
	s := newStack(t, cache.Options{TTL: time.Hour})
	var loads int
	users := cache.Typed[user](s).WithLoader(func(_ context.Context, key string) (user, error) {
		loads++
		return user{Name: key}, nil
	})
	ctx := context.Background()
	if u, err := users.Load(ctx, "user:1"); err != nil || u.Name != "user:1" || loads != 1 {
		t.Fatalf("Load miss = %+v, %v (loads %d); want the loader's value", u, err, loads)
	}
	if allocs := testing.AllocsPerRun(1000, func() { _, _ = users.Load(ctx, "user:1") }); allocs != 0 {
		t.Errorf("Load hit allocates %.1f times per call, want 0", allocs)
	}
	if loads != 1 {
		t.Errorf("loader ran %d times, want 1", loads)
	}
}
