package cache_test

import (
	"context"
	"errors"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
)

func TestNamespacesQualifyKeysAndClearOnlyTheirOwn(t *testing.T) {
	t.Parallel()
	root := newStack(t, cache.Options{})
	a, err := root.Namespace("a")
	if err != nil {
		t.Fatal(err)
	}
	ab, err := a.Namespace("b")
	if err != nil {
		t.Fatal(err)
	}
	sibling, err := root.Namespace("ab") // must survive a's Clear: "a:" is not a prefix of "ab:"
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, s := range []*cache.Stack{root, a, ab, sibling} {
		if err := cache.Typed[string](s).Set(ctx, "k", s.Prefix()); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := cache.Typed[string](root).Get(ctx, "a:b:k", nil); got != "a:b:" {
		t.Fatalf("root Get(a:b:k) = %q, want the nested namespace's value", got)
	}
	if err := a.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*cache.Stack{a, ab} {
		if _, err := cache.Typed[string](s).Get(ctx, "k", nil); !errors.Is(err, cache.ErrMiss) {
			t.Errorf("namespace %q after a.Clear: Get error = %v, want ErrMiss", s.Prefix(), err)
		}
	}
	for _, s := range []*cache.Stack{root, sibling} {
		if got, err := cache.Typed[string](s).Get(ctx, "k", nil); err != nil || got != s.Prefix() {
			t.Errorf("namespace %q after a.Clear: Get = %q, %v; want it kept", s.Prefix(), got, err)
		}
	}
}

func TestNamespaceNamesAreValidated(t *testing.T) {
	t.Parallel()
	root := newStack(t, cache.Options{})
	for _, name := range []string{"", "a:b", "bad\nname"} {
		if _, err := root.Namespace(name); !errors.Is(err, cache.ErrInvalidKey) {
			t.Errorf("Namespace(%q) error = %v, want ErrInvalidKey", name, err)
		}
	}
}
