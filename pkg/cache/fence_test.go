package cache_test

import (
	"context"
	"errors"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
)

// slowFetch starts a Get of key whose fetcher returns value once release is
// closed. It returns when the fetcher is running, and a channel with the
// Get's result.
func slowFetch(t *testing.T, v *cache.View[string], key, value string, release chan struct{}) <-chan string {
	t.Helper()
	started := make(chan struct{})
	out := make(chan string, 1)
	go func() {
		got, err := v.Get(context.Background(), key, func(context.Context) (string, error) {
			close(started)
			<-release
			return value, nil
		})
		if err != nil {
			t.Errorf("slow Get: %v", err)
		}
		out <- got
	}()
	<-started
	return out
}

func TestSlowFetchNeverOverwritesANewerWrite(t *testing.T) {
	t.Parallel()
	writes := []struct {
		name  string
		write func(s *cache.Stack, v *cache.View[string]) error
		want  func(t *testing.T, v *cache.View[string])
	}{
		{
			name:  "Set",
			write: func(_ *cache.Stack, v *cache.View[string]) error { return v.Set(context.Background(), "k", "new") },
			want: func(t *testing.T, v *cache.View[string]) {
				if got, err := v.Get(context.Background(), "k", nil); err != nil || got != "new" {
					t.Fatalf("Get = %q, %v; want new (the later Set)", got, err)
				}
			},
		},
		{
			name:  "Delete",
			write: func(s *cache.Stack, _ *cache.View[string]) error { return s.Delete(context.Background(), "k") },
			want:  wantMiss,
		},
		{
			name: "DeleteMany",
			write: func(s *cache.Stack, _ *cache.View[string]) error {
				return s.DeleteMany(context.Background(), []string{"k", "x"})
			},
			want: wantMiss,
		},
		{
			name:  "Clear",
			write: func(s *cache.Stack, _ *cache.View[string]) error { return s.Clear(context.Background()) },
			want:  wantMiss,
		},
		{
			name: "SetMany",
			write: func(_ *cache.Stack, v *cache.View[string]) error {
				return v.SetMany(context.Background(), []cache.KeyValue[string]{{Key: "k", Value: "new"}})
			},
			want: func(t *testing.T, v *cache.View[string]) {
				if got, _ := v.Get(context.Background(), "k", nil); got != "new" {
					t.Fatalf("Get = %q, want new", got)
				}
			},
		},
	}
	for _, layers := range []int{1, 2} {
		for _, w := range writes {
			t.Run(w.name, func(t *testing.T) {
				t.Parallel()
				var ls []cache.Layer
				for i := range layers {
					ls = append(ls, newMemory(t, string(rune('a'+i)), nil))
				}
				s := newStack(t, cache.Options{}, ls...)
				v := cache.Typed[string](s)
				release := make(chan struct{})
				result := slowFetch(t, v, "k", "old", release)
				if err := w.write(s, v); err != nil {
					t.Fatal(err)
				}
				close(release)
				if got := <-result; got != "old" {
					t.Fatalf("the slow caller got %q, want old (its own fetch)", got)
				}
				w.want(t, v)
				if n := s.Stats().FencedWrites; n != 1 {
					t.Errorf("FencedWrites = %d, want 1", n)
				}
			})
		}
	}
}

func wantMiss(t *testing.T, v *cache.View[string]) {
	t.Helper()
	if got, err := v.Get(context.Background(), "k", nil); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("Get = %q, %v; want ErrMiss (the stale fetch must not resurrect the key)", got, err)
	}
}

func TestCallerAfterDeleteDoesNotJoinTheOlderFetch(t *testing.T) {
	t.Parallel()
	s := newStack(t, cache.Options{})
	v := cache.Typed[string](s)
	release := make(chan struct{})
	defer close(release)
	_ = slowFetch(t, v, "k", "before-delete", release)
	if err := s.Delete(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	got, err := v.Get(context.Background(), "k", func(context.Context) (string, error) { return "after-delete", nil })
	if err != nil || got != "after-delete" {
		t.Fatalf("Get after Delete = %q, %v; want after-delete from a new fetch", got, err)
	}
}
