// Package gqlcache caches GraphQL resolver results in a cache.Stack.
//
// Resolver wraps a resolver function, such as a method gqlgen generates on
// a resolver type, with a read-through cache:
//
//	product, err := gqlcache.Resolver(cache.Typed[*model.Product](stack), "product",
//		func(ctx context.Context, id string) (string, error) { return id, nil },
//		r.loadProduct, cache.TTL(time.Minute))
//
//	func (r *queryResolver) Product(ctx context.Context, id string) (*model.Product, error) {
//		return product(ctx, id)
//	}
//
// The key function is required: there is no key derived implicitly from
// the arguments, because a field's result often depends on who asks (the
// viewer is in the context, not in the arguments). A key function for
// per-user data must put the user in the key, or return ErrUncached.
//
// Concurrent calls with the same key call the resolver once and share its
// result, or its error: callers whose keys are equal must be entitled to
// the same answer. A resolver that returns cache.ErrNotFound is cached as
// absent for the Stack's NegativeTTL (or a cache.NegativeTTL option).
//
// The resolver runs with a context that carries the values of the call
// that started it (gqlgen's operation and field contexts, the viewer) and
// ends when every caller waiting for it has left. A background refresh
// (stale-while-revalidate, refresh-ahead) runs after that call has
// returned: it keeps the call's values but not its cancellation.
//
// The package does not import gqlgen: it works with any resolver of the
// shape func(context.Context, A) (R, error). It is a module of its own,
// like the other framework integrations; its tests use gqlgen's graphql
// package to check that field contexts reach the resolver.
package gqlcache
