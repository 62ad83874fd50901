package grpccache

import (
	"context"
	"errors"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/breaker"
	"github.com/layercache/layercache/pkg/cache/ratelimit"
)

// New returns a unary server interceptor caching the responses of
// opts.Methods in s. It validates opts and returns an error that names the
// bad field.
func New(s *cache.Stack, opts Options) (grpc.UnaryServerInterceptor, error) {
	if s == nil {
		return nil, errors.New("grpccache: New needs a cache.Stack")
	}
	v := cache.Typed[[]byte](s)
	methods, callOpts, err := opts.resolve(v)
	if err != nil {
		return nil, err
	}
	ic := &interceptor{view: v, methods: methods, key: opts.Key, tags: opts.Tags, callOpts: callOpts}
	return ic.intercept, nil
}

// UnaryServerInterceptor is New for static configuration: it panics if
// opts are invalid.
func UnaryServerInterceptor(s *cache.Stack, opts Options) grpc.UnaryServerInterceptor {
	ic, err := New(s, opts)
	if err != nil {
		panic(err)
	}
	return ic
}

type interceptor struct {
	view     *cache.View[[]byte]
	methods  map[string]func() proto.Message
	key      func(context.Context, string, proto.Message) (string, bool)
	tags     func(context.Context, string, proto.Message) []string
	callOpts []cache.Option
}

func (ic *interceptor) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	newResp, ok := ic.methods[info.FullMethod]
	if !ok {
		return handler(ctx, req)
	}
	msg, ok := req.(proto.Message)
	if !ok {
		return handler(ctx, req)
	}
	k, ok := ic.key(ctx, info.FullMethod, msg)
	key := info.FullMethod + " " + k
	if !ok || cache.ValidateKey(key) != nil {
		return handler(ctx, req)
	}
	opts := ic.callOpts
	if ic.tags != nil {
		if tags := ic.tags(ctx, info.FullMethod, msg); len(tags) > 0 {
			opts = append(opts[:len(opts):len(opts)], cache.Tags(tags...))
		}
	}
	c := &call{handler: handler, req: req, ctx: ctx}
	b, err := ic.view.Get(context.WithValue(ctx, callKey{}, c), key, c.fetch, opts...)
	own := c.result()
	switch {
	case err == nil:
		if own.ran && own.stored {
			return own.resp, nil // this call's handler produced b
		}
		m := newResp()
		if uerr := proto.Unmarshal(b, m); uerr != nil {
			// Not a response of this method (a changed schema, a
			// foreign writer): serve the call and let it be replaced.
			_ = ic.view.Stack().Delete(ctx, key)
			return handler(ctx, req)
		}
		return m, nil
	case own.ran:
		return own.resp, own.err
	case ctx.Err() != nil:
		return nil, status.FromContextError(ctx.Err()).Err()
	case errors.Is(err, breaker.ErrOpen) || errors.Is(err, ratelimit.ErrLimited):
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	// Another call's handler gave no shareable answer, or the cache
	// failed: serve this call itself.
	return handler(ctx, req)
}

// callKey marks the context of a call's own cache read with the call, so
// its fetch can tell the call's own run from a background refresh.
type callKey struct{}

// call is one intercepted call's cache read.
type call struct {
	handler grpc.UnaryHandler
	req     any
	ctx     context.Context // the call's; its values are kept for refreshes

	mu  sync.Mutex // protects own: the fetch may outlive the call
	own outcome
}

// outcome is what the call's own handler run returned.
type outcome struct {
	ran    bool
	stored bool // resp was encoded and handed to the Stack
	resp   any
	err    error
}

func (c *call) result() outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.own
}

// fetch is the cache.Fetcher of the read: it calls the handler and encodes
// its response.
func (c *call) fetch(fctx context.Context) ([]byte, error) {
	// The handler sees the call's values (metadata, peer) even in a
	// background refresh, and is cancelled with the fetch.
	hctx, cancel := context.WithCancel(context.WithoutCancel(c.ctx))
	defer cancel()
	stop := context.AfterFunc(fctx, cancel)
	defer stop()
	resp, err := c.handler(hctx, c.req)
	b, ferr := encode(resp, err)
	if fctx.Value(callKey{}) == c {
		c.mu.Lock()
		c.own = outcome{ran: true, stored: ferr == nil, resp: resp, err: err}
		c.mu.Unlock()
	}
	return b, ferr
}

// encode turns a handler's result into what the fetch returns.
func encode(resp any, err error) ([]byte, error) {
	if err != nil {
		if serverFailure(status.Code(err)) {
			return nil, err
		}
		return nil, errPass
	}
	m, ok := resp.(proto.Message)
	if !ok || m == nil || !m.ProtoReflect().IsValid() { // nil or a typed nil
		return nil, errPass
	}
	b, merr := proto.Marshal(m)
	if merr != nil {
		return nil, errPass
	}
	return b, nil
}

// serverFailure reports whether code says the server failed, rather than
// answered.
func serverFailure(code codes.Code) bool {
	switch code {
	case codes.Unknown, codes.Internal, codes.Unavailable, codes.DataLoss, codes.DeadlineExceeded:
		return true
	}
	return false
}
