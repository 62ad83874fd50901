package grpccache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/layercache/layercache/pkg/cache"
)

// Options configures the interceptor. Methods and Key are required.
type Options struct {
	// Methods are the full names of the unary methods cached, as in
	// grpc.UnaryServerInfo.FullMethod ("/package.Service/Method"). Calls of
	// other methods pass through.
	//
	// required
	Methods []string

	// Key returns the cache key of a call, or false to serve it uncached.
	// The key is qualified with the method name, so methods cannot share
	// entries. It must keep callers apart when the response depends on
	// who calls. It must be safe for concurrent use.
	//
	// required
	Key func(ctx context.Context, fullMethod string, req proto.Message) (key string, ok bool)

	// NewResponse returns a new, empty response message of a method. New
	// calls it once per method to check it.
	//
	// default: the method's output type, looked up in
	// protoregistry.GlobalFiles and protoregistry.GlobalTypes, where
	// protoc-gen-go's generated code registers it
	NewResponse func(fullMethod string) proto.Message

	// TTL is how long a cached response stays fresh.
	//
	// default: 0 (the Stack's TTL)
	TTL time.Duration

	// Tags returns the tags a response is stored with.
	//
	// default: no tags
	Tags func(ctx context.Context, fullMethod string, req proto.Message) []string

	// CallOptions are added to every cache read (stale windows, per-layer
	// TTLs, ...). New checks them against the Stack.
	//
	// default: none
	CallOptions []cache.Option
}

// resolve validates o and returns the response constructor of each method
// and the options of every cache read.
func (o *Options) resolve(v *cache.View[[]byte]) (map[string]func() proto.Message, []cache.Option, error) {
	if len(o.Methods) == 0 {
		return nil, nil, errors.New("grpccache: Options.Methods is empty; list the methods to cache")
	}
	if o.Key == nil {
		return nil, nil, errors.New("grpccache: Options.Key is required: calls have no implicit key")
	}
	if o.TTL < 0 {
		return nil, nil, fmt.Errorf("grpccache: Options.TTL is %s; it must not be negative", o.TTL)
	}
	methods := make(map[string]func() proto.Message, len(o.Methods))
	for _, m := range o.Methods {
		newResp, err := o.responseOf(m)
		if err != nil {
			return nil, nil, fmt.Errorf("grpccache: Options.Methods: %q: %w", m, err)
		}
		methods[m] = newResp
	}
	var callOpts []cache.Option
	if o.TTL > 0 {
		callOpts = append(callOpts, cache.TTL(o.TTL))
	}
	callOpts = append(callOpts, o.CallOptions...)
	// Answers that are not cached reach the engine as "not found" (see
	// errPass); this keeps them from being stored as negative entries.
	callOpts = append(callOpts, cache.NegativeTTL(0))
	// WrapKey checks options against the Stack without reading or writing.
	noKey := func(struct{}) (string, error) { return "", nil }
	noFn := func(context.Context, struct{}) ([]byte, error) { return nil, nil }
	if _, err := cache.WrapKey(v, noKey, noFn, callOpts...); err != nil {
		return nil, nil, fmt.Errorf("grpccache: Options.CallOptions: %w", err)
	}
	return methods, callOpts, nil
}

// responseOf returns the constructor of method's response message.
func (o *Options) responseOf(method string) (func() proto.Message, error) {
	if o.NewResponse != nil {
		if o.NewResponse(method) == nil {
			return nil, errors.New("Options.NewResponse returned nil")
		}
		return func() proto.Message { return o.NewResponse(method) }, nil
	}
	svc, name, ok := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	if !ok || !strings.HasPrefix(method, "/") || svc == "" || name == "" || strings.Contains(name, "/") {
		return nil, errors.New(`not a full method name; want "/package.Service/Method"`)
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		return nil, fmt.Errorf("service %s: %w (import its generated package, or set Options.NewResponse)", svc, err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("%s is not a service", svc)
	}
	md := sd.Methods().ByName(protoreflect.Name(name))
	if md == nil {
		return nil, fmt.Errorf("service %s has no method %s", svc, name)
	}
	if md.IsStreamingClient() || md.IsStreamingServer() {
		return nil, errors.New("streaming methods cannot be cached")
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
	if err != nil {
		return nil, fmt.Errorf("response type %s: %w", md.Output().FullName(), err)
	}
	return func() proto.Message { return mt.New().Interface() }, nil
}
