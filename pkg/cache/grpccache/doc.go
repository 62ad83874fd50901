// Package grpccache caches the responses of unary gRPC methods in a
// cache.Stack, as a server interceptor.
//
//	ic, err := grpccache.New(stack, grpccache.Options{
//		Methods: []string{"/shop.Catalog/GetItem"},
//		Key: func(ctx context.Context, method string, req proto.Message) (string, bool) {
//			r, ok := req.(*shoppb.GetItemRequest)
//			return r.GetId(), ok
//		},
//		TTL: time.Minute,
//	})
//	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(ic))
//
// Only the methods listed in Options.Methods are cached, and only under a
// key that Options.Key returns: there is no implicit key, because the same
// request message often means different data for different callers (the
// caller is in the metadata, not in the message). A Key that serves
// per-user data must put the user in the key, or return false.
//
// A response is stored as its proto.Marshal encoding and decoded into a new
// message of the method's response type on every hit, so callers never
// share a message. The type comes from the generated code's registration
// in protoregistry (or from Options.NewResponse). Response metadata the
// handler sets (grpc.SetHeader, grpc.SetTrailer) reaches only the caller
// whose call ran the handler; it is not cached.
//
// Concurrent calls for a missing key run the handler once. A handler error
// is never cached. Server-side failures (codes Unknown, Internal,
// Unavailable, DataLoss, DeadlineExceeded) count as fetch failures for the
// Stack's breaker, and inside a stale-if-error window the stale response
// is returned instead; other codes (NotFound, PermissionDenied, ...) are
// answers: the calls that waited on one run the handler themselves, so an
// error is never handed to another caller. A background refresh (stale-
// while-revalidate, refresh-ahead) calls the handler after the call that
// scheduled it has returned, with a context that keeps that call's values
// (metadata, peer) but not its cancellation.
//
// When the Stack fails (closed, a layer down) the call is served by the
// handler, uncached; when a breaker or rate limiter of the Stack refuses
// the fetch, the call fails with codes.Unavailable.
//
// The interceptor is safe for concurrent use. The package is a module of
// its own so that gRPC never enters the main module's go.mod.
package grpccache
