package httpcache_test

import (
	"net/http/httptest"
	"testing"

	"github.com/layercache/layercache/pkg/cache/httpcache"
)

type frameworkCtx struct{ route string }

func TestFrameworkOptionsHandKeyAndTagsTheFrameworkContext(t *testing.T) {
	t.Parallel()
	o := httpcache.FrameworkOptions[*frameworkCtx]{
		Key:  func(c *frameworkCtx) (string, bool) { return "k:" + c.route, true },
		Tags: func(c *frameworkCtx) []string { return []string{c.route} },
	}
	opts, needs := o.Options()
	if !needs || opts.Key == nil || opts.Tags == nil {
		t.Fatalf("Options() = %+v, needsContext %v; want Key, Tags and the context needed", opts, needs)
	}
	r := httpcache.WithFrameworkContext(httptest.NewRequest("GET", "/users/7", nil), &frameworkCtx{route: "/users/:id"})
	if k, ok := opts.Key(r); !ok || k != "k:/users/:id" {
		t.Fatalf("Key = %q, %v", k, ok)
	}
	if tags := opts.Tags(r); len(tags) != 1 || tags[0] != "/users/:id" {
		t.Fatalf("Tags = %q", tags)
	}
	if _, needs := (httpcache.FrameworkOptions[*frameworkCtx]{}).Options(); needs {
		t.Fatal("zero FrameworkOptions needs the framework context")
	}
	if c := httpcache.FrameworkContext[*frameworkCtx](httptest.NewRequest("GET", "/", nil)); c != nil {
		t.Fatalf("FrameworkContext of a plain request = %v, want nil", c)
	}
}
